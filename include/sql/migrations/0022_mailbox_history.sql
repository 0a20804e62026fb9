-- Where each sending account's mailbox was last read to (README, "What comes back"): Gmail's
-- historyId after the last complete read, so the next read asks Gmail for everything added
-- since (users.history.list) and no message is skipped however many arrive.
CREATE TABLE mailbox_cursors (
    account      TEXT PRIMARY KEY,
    history_id   TEXT NOT NULL,
    how          TEXT NOT NULL,   -- how the read that stored it went: history | listing | listing (history expired)
    run_id       TEXT,
    updated_at   TEXT NOT NULL
);
