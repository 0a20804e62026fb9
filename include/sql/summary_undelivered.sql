-- The instructor's summaries of the cohort's earlier runs that did not go out (refused, or their
-- outcome unknown): the next summary tells her, so a lost one is never silent.
SELECT decided_run_id AS run_id, status, last_error, created_at
FROM email_ledger
WHERE cohort_id = :cohort_id AND kind = 'summary' AND decided_run_id <> :run_id AND status <> 'sent'
ORDER BY created_at DESC
LIMIT 10
