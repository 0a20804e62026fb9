-- The ledger's events for one customer's emails (claimed, drafted, sent, failed...), in order.
SELECT e.at, e.event, e.run_id, l.kind, l.ref
FROM ledger_events e
JOIN email_ledger l ON l.email_key = e.email_key
WHERE l.cohort_id = :cohort_id AND l.recipient = :email
ORDER BY e.at
