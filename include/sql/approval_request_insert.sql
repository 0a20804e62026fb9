-- One approval request; whom it lists is in approval_request_people (approval_request_person_insert.sql).
INSERT INTO approval_requests (run_id, cohort_id, stage, approver, subject, body)
VALUES (:run_id, :cohort_id, :stage, :approver, :subject, :body)
