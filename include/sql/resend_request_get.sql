-- One resend request by its reference (the trigger form's resend_request).
SELECT reference, cohort_id, email, kind, reason, requested_by, requested_at
FROM resend_requests
WHERE reference = :reference
