-- The emails of one page of a cohort's customers (:emails, the page's addresses): every customer
-- email the ledger holds for them (a course's reminder, cancellation and welcome; a journey's
-- '<stage>:<kind>'; never a digest, summary or alert, which go to staff): kind, state, when Gmail
-- accepted it, the provider's id, and why it was decided (the deciding run's reason).
SELECT l.recipient AS email, l.kind, l.status, l.sent_at, l.provider_message_id, l.requested_reason,
       d.reason AS decided_reason
FROM email_ledger l
LEFT JOIN decisions d ON d.run_id = l.decided_run_id AND d.cohort_id = l.cohort_id
                     AND d.email = l.recipient AND d.kind = l.kind AND d.stage = l.stage AND d.visit = l.visit
                     AND d.resend_run_id = l.resend_run_id AND d.retry = l.retry
WHERE l.cohort_id = :cohort_id AND l.recipient IN :emails AND l.per_run_id = ''
ORDER BY l.recipient, l.created_at, l.kind
