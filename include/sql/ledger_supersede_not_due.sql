-- Emails entered by an earlier run but never attempted, and not due at this run (their window
-- passed, the customer's standing changed): they will not be sent. One statement for the cohort,
-- every customer email of any journey (not those sent once per run: summaries, digests, alerts).
UPDATE email_ledger
SET status = 'superseded', last_error = :reason, updated_at = :now
WHERE cohort_id = :cohort_id AND status = 'pending' AND per_run_id = ''
  AND NOT EXISTS (
      SELECT 1 FROM decisions d
      WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id AND d.email = email_ledger.recipient
        AND d.kind = email_ledger.kind AND d.stage = email_ledger.stage AND d.visit = email_ledger.visit
        AND d.resend_run_id = email_ledger.resend_run_id AND d.retry = email_ledger.retry
        AND email_ledger.per_run_id = '' AND d.outcome = 'due')
