-- An approval request's subject and body, rewritten by an erasure.
UPDATE approval_requests SET subject = :subject, body = :body
WHERE run_id = :run_id AND cohort_id = :cohort_id AND stage = :stage AND approver = :approver
