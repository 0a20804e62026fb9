-- The approval requests an erased CSM was asked (now under the erasure's placeholder), whose
-- subject ("..., customers of <her name>") and body the caller rewrites without her names.
SELECT run_id, cohort_id, stage, approver, subject, body FROM approval_requests
WHERE approver = :placeholder
