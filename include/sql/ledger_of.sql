-- The ledger's row for one email, by its identity (the columns, not the key).
SELECT email_key, ref, status
FROM email_ledger
WHERE cohort_id = :cohort_id AND recipient = :recipient AND kind = :kind AND stage = :stage AND visit = :visit
  AND resend_run_id = :resend_run_id AND retry = :retry AND per_run_id = :per_run_id
