-- Every email the ledger holds for one customer of a cohort: kind, state, the night decided and
-- sent, the provider's id, attempts, the last error, a resend's reason, and why it was decided
-- (the deciding run's reason).
SELECT l.email_key, l.ref, l.kind, l.status, l.decided_run_id, l.sent_run_id, l.sent_at,
       l.provider_message_id, l.attempts, l.last_error, l.requested_reason, l.created_at,
       d.outcome AS decided_outcome, d.reason AS decided_reason
FROM email_ledger l
LEFT JOIN decisions d ON d.run_id = l.decided_run_id AND d.cohort_id = l.cohort_id
                     AND d.email = l.recipient AND d.kind = l.kind AND d.stage = l.stage AND d.visit = l.visit
                     AND d.resend_run_id = l.resend_run_id AND d.retry = l.retry
WHERE l.cohort_id = :cohort_id AND l.recipient = :email
ORDER BY l.created_at, l.kind
