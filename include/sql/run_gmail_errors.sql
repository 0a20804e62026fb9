-- Every refusal or failure the email provider gave during a cohort's run (a refused attempt is
-- 'released' and retried; 'failed' and 'unconfirmed' are final), oldest first.
SELECT e.at, e.event, e.detail, l.kind, l.recipient
FROM ledger_events e
JOIN email_ledger l ON l.email_key = e.email_key
WHERE e.run_id = :run_id AND l.cohort_id = :cohort_id AND e.event IN ('released', 'failed', 'unconfirmed')
ORDER BY e.at
