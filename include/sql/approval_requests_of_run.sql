-- The approval requests a run made, cohort by cohort.
SELECT run_id, cohort_id, stage, approver, subject, body, options, people, answered_at, answered_by
FROM approval_requests
WHERE run_id = :run_id
ORDER BY cohort_id, stage, approver
