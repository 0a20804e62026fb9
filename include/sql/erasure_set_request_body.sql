-- An approval request's body without an erased person's line.
UPDATE approval_requests SET body = :text
WHERE run_id = :run_id AND cohort_id = :cohort_id AND stage = :stage AND approver = :approver
