-- Record one message read from the sender's mailbox; a message already recorded stays as it
-- was (the caller acts only on a message recorded now, so each is acted on once).
INSERT INTO mailbox_messages (account, message_id, kind, address, ref, email_key, cohort_id, bounce, status_code,
                              detail, action, received_at, run_id, recorded_at)
VALUES (:account, :message_id, :kind, :address, :ref, :email_key, :cohort_id, :bounce, :status_code,
        :detail, :action, :received_at, :run_id, :now)
ON CONFLICT (account, message_id) DO NOTHING
