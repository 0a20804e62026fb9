-- The instructor's status tab, for every journey (the seed's included): every customer's standing
-- as of the run; when they signed up; since when they are in their current stage and when it is
-- due (a journey's visits); their CSM; how many emails they have been sent in all; and one row per
-- email of theirs the ledger holds under a name without a stage (the seed journey's kinds: the
-- original, not a resend or a retry, those are in the email log), with its status and when it was
-- sent; kind is NULL on the one row of a customer with none. The sheet (reporting/sheet.py) makes
-- each of the journey's kinds a column, so the rows of one customer come together, by kind.
SELECT c.email, c.name, c.status, c.completed_at, c.signed_up_at, c.entered_at, c.due_at, c.csm_name, c.csm_email,
       c.emails_sent, l.kind, l.status AS email_status, l.sent_at AS email_sent_at
FROM (
    SELECT cs.cohort_id, cs.email, cs.name, cs.status, cs.completed_at, su.signed_up_at, v.entered_at, v.due_at,
           a.csm_name, a.csm_email,
           (SELECT COUNT(*) FROM email_ledger n
            WHERE n.cohort_id = cs.cohort_id AND n.recipient = cs.email AND n.status = 'sent') AS emails_sent
    FROM customer_status cs
    LEFT JOIN (
        SELECT email, MIN(signed_up_at) AS signed_up_at
        FROM signups
        WHERE run_id = :run_id AND cohort_id = :cohort_id
        GROUP BY email
    ) su ON su.email = cs.email
    LEFT JOIN (
        SELECT email, MAX(entered_at) AS entered_at, MAX(due_at) AS due_at
        FROM journey_visits
        WHERE run_id = :run_id AND cohort_id = :cohort_id AND outcome NOT IN ('completed', 'completed_late', 'approved', 'skipped')
        GROUP BY email
    ) v ON v.email = cs.email
    LEFT JOIN csm_assignments a ON a.cohort_id = cs.cohort_id AND a.email = cs.email
    WHERE cs.run_id = :run_id AND cs.cohort_id = :cohort_id
) c
LEFT JOIN email_ledger l ON l.cohort_id = c.cohort_id AND l.recipient = c.email AND l.stage = '' AND l.visit = 1
     AND l.resend_run_id = '' AND l.retry = 0 AND l.per_run_id = ''
ORDER BY c.status, c.name, c.email, l.kind
