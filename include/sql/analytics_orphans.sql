-- One page of the completions of one run with no signup: email, when, and the completion row.
SELECT email, completed_at, source_row
FROM orphan_completions
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY completed_at, email
LIMIT :list_limit OFFSET :list_offset
