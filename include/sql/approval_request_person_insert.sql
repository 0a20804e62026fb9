-- One person an approval request lists: their option in the form and their line of its table.
INSERT INTO approval_request_people (run_id, cohort_id, stage, approver, email, ordinal, option_text, line)
VALUES (:run_id, :cohort_id, :stage, :approver, :email, :ordinal, :option_text, :line)
