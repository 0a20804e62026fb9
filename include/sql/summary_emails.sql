-- The people the instructor's summary names for each list of emails (sent this run, would be
-- sent, waiting, held back, not sent because suppressed), the first :list_limit of each kind by name: the full lists are in
-- the run's report CSV files, so a summary stays readable at any size.
SELECT category, kind, email, name, outcome, reason, ledger_status, last_error
FROM (
    SELECT x.*, ROW_NUMBER() OVER (PARTITION BY category, kind ORDER BY name, email) AS position
    FROM (
        SELECT d.kind, d.email, c.name, d.outcome, d.reason, l.status AS ledger_status, l.last_error,
               CASE WHEN d.outcome = 'due' AND l.status = 'sent' AND l.sent_run_id = :run_id THEN 'sent'
                    WHEN d.outcome = 'would_send' THEN 'would_send'
                    WHEN d.outcome IN ('blocked', 'failed_earlier') THEN 'blocked'
                    WHEN d.outcome IN ('suppressed', 'no_consent')
                      OR (d.outcome = 'due' AND l.status = 'superseded' AND l.last_error LIKE 'suppressed%')
                         THEN 'suppressed'
                    WHEN d.outcome = 'due' AND l.status IN ('failed', 'unconfirmed', 'claimed', 'drafted', 'pending')
                         THEN 'waiting'
                    ELSE 'other' END AS category
        FROM decisions d
        JOIN customer_status c ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
        LEFT JOIN email_ledger l
          ON l.cohort_id = d.cohort_id AND l.recipient = d.email AND l.kind = d.kind AND l.stage = d.stage
         AND l.visit = d.visit AND l.resend_run_id = d.resend_run_id AND l.retry = d.retry AND l.per_run_id = ''
        WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id
    ) x
    WHERE category <> 'other'
) ranked
WHERE position <= :list_limit
ORDER BY category, kind, name, email
