-- Whom a run's approval requests list, each request's people in the order it lists them.
SELECT cohort_id, stage, approver, email, option_text, line
FROM approval_request_people
WHERE run_id = :run_id
ORDER BY cohort_id, stage, approver, ordinal
