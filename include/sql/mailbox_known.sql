-- The mailbox messages of an account already recorded, received since a moment (not read again).
SELECT message_id
FROM mailbox_messages
WHERE account = :account AND (received_at IS NULL OR received_at >= :since)
