-- Every approval and rejection recorded for a cohort, oldest first: what the engine reads.
SELECT email, stage, decision, decided_at, decided_by, reason
FROM approvals
WHERE cohort_id = :cohort_id
ORDER BY email, decided_at
