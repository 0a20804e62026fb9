-- The approval requests made before migration 0021 that list a person (exactly: = on the email):
-- their body still holds her line of the table, which the caller takes out.
SELECT q.run_id, q.cohort_id, q.stage, q.approver, q.body
FROM approval_requests q
JOIN approval_request_people p ON p.run_id = q.run_id AND p.cohort_id = q.cohort_id AND p.stage = q.stage
                              AND p.approver = q.approver
WHERE p.email = :address AND p.line IS NULL AND (:scope = '*' OR q.cohort_id = :scope)
