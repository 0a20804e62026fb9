-- The instructor's status tab: every customer's standing as of the run, with the emails each has
-- been sent (from the ledger, whichever run sent them: each email by its identity's columns, the
-- original, not a resend or a retry; those are in the email log).
SELECT cs.email, cs.name, cs.status, cs.completed_at, su.signed_up_at,
       rem.status AS reminder_status, rem.sent_at AS reminder_sent_at,
       can.status AS cancellation_status, can.sent_at AS cancellation_sent_at,
       wel.status AS welcome_status, wel.sent_at AS welcome_sent_at
FROM customer_status cs
LEFT JOIN (
    SELECT email, MIN(signed_up_at) AS signed_up_at
    FROM signups
    WHERE run_id = :run_id AND cohort_id = :cohort_id
    GROUP BY email
) su ON su.email = cs.email
LEFT JOIN email_ledger rem ON rem.cohort_id = cs.cohort_id AND rem.recipient = cs.email AND rem.kind = 'reminder'
     AND rem.stage = '' AND rem.visit = 1 AND rem.resend_run_id = '' AND rem.retry = 0 AND rem.per_run_id = ''
LEFT JOIN email_ledger can ON can.cohort_id = cs.cohort_id AND can.recipient = cs.email AND can.kind = 'cancellation'
     AND can.stage = '' AND can.visit = 1 AND can.resend_run_id = '' AND can.retry = 0 AND can.per_run_id = ''
LEFT JOIN email_ledger wel ON wel.cohort_id = cs.cohort_id AND wel.recipient = cs.email AND wel.kind = 'welcome'
     AND wel.stage = '' AND wel.visit = 1 AND wel.resend_run_id = '' AND wel.retry = 0 AND wel.per_run_id = ''
WHERE cs.run_id = :run_id AND cs.cohort_id = :cohort_id
ORDER BY cs.status, cs.name, cs.email
