-- The instructor's status tab for a journey cohort: every customer's stage and standing as of the
-- run, since when (the entry of their current stage, its due time), their CSM, and how many emails
-- they have been sent in the journey (the email log lists them).
SELECT cs.email, cs.name, cs.status, su.signed_up_at, v.entered_at, v.due_at, a.csm_name, a.csm_email,
       (SELECT COUNT(*) FROM email_ledger l
        WHERE l.cohort_id = cs.cohort_id AND l.recipient = cs.email AND l.status = 'sent') AS emails_sent
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
    WHERE run_id = :run_id AND cohort_id = :cohort_id AND outcome NOT IN ('completed', 'completed_late', 'approved')
    GROUP BY email
) v ON v.email = cs.email
LEFT JOIN csm_assignments a ON a.cohort_id = cs.cohort_id AND a.email = cs.email
WHERE cs.run_id = :run_id AND cs.cohort_id = :cohort_id
ORDER BY cs.status, cs.name, cs.email
