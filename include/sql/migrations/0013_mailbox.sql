-- What the sender's mailbox told us (README, "Privacy and deliverability"): delivery-status
-- notifications (bounces) and unsubscribe mails, each recorded once by its provider message id,
-- with the ledger entry it answers and what was done about it.
ALTER TABLE email_ledger ADD COLUMN bounce TEXT;

CREATE TABLE mailbox_messages (
    account      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,   -- bounce | unsubscribe | ignored
    address      TEXT,
    ref          TEXT,
    email_key    TEXT,
    cohort_id    TEXT,
    bounce       TEXT,            -- hard | soft (a bounce)
    status_code  TEXT,            -- the DSN's Status (5.1.1)
    detail       TEXT,            -- the reason the provider gave, or why the message was ignored
    action       TEXT,            -- what the pipeline did: suppressed, retry, unsubscribed, none
    received_at  TEXT,
    run_id       TEXT,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (account, message_id)
);

CREATE INDEX mailbox_messages_run ON mailbox_messages (run_id, cohort_id);
