-- A resend asked for on the Onboarding page, kept under its reference (who asked, when, why).
INSERT INTO resend_requests (reference, cohort_id, email, kind, reason, requested_by, requested_at)
VALUES (:reference, :cohort_id, :email, :kind, :reason, :requested_by, :now)
