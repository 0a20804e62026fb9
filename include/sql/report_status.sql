-- The instructor's status tab: every customer's standing as of the run, with the emails each has
-- been sent (from the ledger, whichever run sent them; resends are in the email log).
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
LEFT JOIN email_ledger rem ON rem.email_key = cs.cohort_id || '|' || cs.email || '|reminder'
LEFT JOIN email_ledger can ON can.email_key = cs.cohort_id || '|' || cs.email || '|cancellation'
LEFT JOIN email_ledger wel ON wel.email_key = cs.cohort_id || '|' || cs.email || '|welcome'
WHERE cs.run_id = :run_id AND cs.cohort_id = :cohort_id
ORDER BY cs.status, cs.name, cs.email
