-- The approval requests a run made, cohort by cohort, with the moment that run decided as of.
SELECT q.run_id, q.cohort_id, q.stage, q.approver, q.subject, q.body, q.answered_at, q.answered_by, r.as_of
FROM approval_requests q
LEFT JOIN runs r ON r.run_id = q.run_id AND r.cohort_id = q.cohort_id
WHERE q.run_id = :run_id
ORDER BY q.cohort_id, q.stage, q.approver
