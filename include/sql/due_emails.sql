-- The emails a run decided are due (or would be, in a dry run), most urgent first: reminders
-- (their deadline is coming), then cancellations, then welcomes; within a kind, those that have
-- been waiting longest (left over by an earlier run) first. Each with the ledger's key and
-- reference for it (a dry run's, which enters nothing, with the ones the run decided), and the
-- language to write it in: the one the ledger entered it in (a retry, a resend), else the customer's.
SELECT COALESCE(l.email_key, d.email_key) AS email_key, COALESCE(l.ref, d.ref) AS ref, d.kind, d.email, c.name,
       c.first_name, COALESCE(l.language, c.language) AS language
FROM decisions d
JOIN customer_status c
  ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
LEFT JOIN email_ledger l
  ON l.cohort_id = d.cohort_id AND l.recipient = d.email AND l.kind = d.kind AND l.stage = d.stage
 AND l.visit = d.visit AND l.resend_run_id = d.resend_run_id AND l.retry = d.retry AND l.per_run_id = ''
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id AND d.outcome IN ('due', 'would_send')
ORDER BY CASE d.kind WHEN 'reminder' THEN 0 WHEN 'cancellation' THEN 1 ELSE 2 END,
         COALESCE(l.created_at, ''), d.email
