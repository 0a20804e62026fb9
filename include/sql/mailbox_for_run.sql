-- What a run read from the mailbox about a cohort's emails: the instructor's summary lists it.
SELECT m.kind, m.address, m.bounce, m.status_code, m.detail, m.action, m.received_at, l.kind AS email_kind,
       l.recipient_name AS name
FROM mailbox_messages m
LEFT JOIN email_ledger l ON l.email_key = m.email_key
WHERE m.run_id = :run_id AND m.cohort_id = :cohort_id AND m.kind IN ('bounce', 'unsubscribe')
ORDER BY m.received_at, m.address
