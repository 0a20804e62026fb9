-- When the newest recorded mailbox message of an account arrived: the next read starts near it.
SELECT MAX(received_at) FROM mailbox_messages WHERE account = :account
