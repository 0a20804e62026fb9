-- After a complete read: the next read of the account starts from this historyId.
INSERT INTO mailbox_cursors (account, history_id, how, run_id, updated_at)
VALUES (:account, :history_id, :how, :run_id, :now)
ON CONFLICT (account) DO UPDATE SET
    history_id = excluded.history_id, how = excluded.how, run_id = excluded.run_id, updated_at = excluded.updated_at
