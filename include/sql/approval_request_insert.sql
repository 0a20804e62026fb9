INSERT INTO approval_requests (run_id, cohort_id, stage, approver, subject, body, options, people)
VALUES (:run_id, :cohort_id, :stage, :approver, :subject, :body, :options, :people)
