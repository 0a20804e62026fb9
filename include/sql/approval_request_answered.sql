-- Note who answered a request and when.
UPDATE approval_requests SET answered_at = :answered_at, answered_by = :answered_by
WHERE run_id = :run_id AND cohort_id = :cohort_id AND stage = :stage AND approver = :approver
