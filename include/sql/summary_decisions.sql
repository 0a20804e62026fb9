-- What a run decided per email, with where the ledger stands on each now.
SELECT d.kind, d.email, c.name, d.outcome, d.reason, l.status AS ledger_status, l.last_error,
       l.sent_run_id, l.provider_message_id
FROM decisions d
JOIN customer_status c
  ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
LEFT JOIN email_ledger l ON l.email_key = d.email_key
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id
ORDER BY d.kind, c.name
