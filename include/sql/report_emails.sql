-- The instructor's email log: every customer email of the cohort the ledger knows, sent or not,
-- whatever its journey and kind (an email sent once per run, a summary, a digest, an alert, is not
-- a customer's).
SELECT kind, recipient, recipient_name, status, sent_at, sent_run_id, decided_run_id,
       provider_message_id, attempts, last_error, updated_at
FROM email_ledger
WHERE cohort_id = :cohort_id AND per_run_id = ''
ORDER BY COALESCE(sent_at, updated_at), kind, recipient
