-- Enter every email a run decided is due into the ledger, in one statement. An email already in
-- the ledger (the same identity, whatever its key) keeps its row: whatever happened to that
-- email before (sent, claimed, refused) stands. A resend asked for by hand is entered on its
-- own, with her reason (ledger_plan.sql). Each in the customer's language as this run read it.
INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, stage, visit, resend_run_id,
                          retry, per_run_id, status, decided_run_id, attempts, created_at, updated_at, language)
SELECT d.email_key, d.ref, d.cohort_id, d.email, c.name, d.kind, d.stage, d.visit, d.resend_run_id,
       d.retry, '', 'pending', d.run_id, 0, :now, :now, c.language
FROM decisions d
JOIN customer_status c ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id AND d.outcome = 'due' AND d.resend_run_id = ''
ON CONFLICT DO NOTHING
