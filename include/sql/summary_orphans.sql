-- Completions with no signup, for the instructor's summary: the first :list_limit by email.
SELECT email, completed_at, source_row
FROM orphan_completions
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY email
LIMIT :list_limit
