-- The emails a run decided are due (or would be, in a dry run), most urgent first: reminders
-- (their deadline is coming), then cancellations, then welcomes; within a kind, those that have
-- been waiting longest (left over by an earlier run) first.
SELECT d.email_key, d.kind, d.email, c.name, c.first_name
FROM decisions d
JOIN customer_status c
  ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
LEFT JOIN email_ledger l ON l.email_key = d.email_key
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id AND d.outcome IN ('due', 'would_send')
ORDER BY CASE d.kind WHEN 'reminder' THEN 0 WHEN 'cancellation' THEN 1 ELSE 2 END,
         COALESCE(l.created_at, ''), d.email
