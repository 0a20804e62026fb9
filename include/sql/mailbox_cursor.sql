-- Gmail's historyId an account's mailbox was last read to (none before its first read).
SELECT history_id FROM mailbox_cursors WHERE account = :account
