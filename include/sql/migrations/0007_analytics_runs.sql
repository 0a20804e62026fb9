-- Analytics (README, "Analytics views"). Views only: they store nothing and
-- change no table, so they can be queried, dropped and recreated freely.
--
-- v_latest_run: each cohort's latest run that decided on its inputs (not a dry run, not held,
-- not failed): the run whose standings the analytics describe. The same rule picks the baseline
-- of the shrink guard (previous_run.sql): a held run's inputs are not trusted.
CREATE VIEW v_latest_run AS
SELECT cohort_id, run_id, as_of, status, started_at
FROM (
    SELECT cohort_id, run_id, as_of, status, started_at,
           ROW_NUMBER() OVER (PARTITION BY cohort_id ORDER BY as_of DESC, started_at DESC) AS rn
    FROM runs
    WHERE dry_run = 0 AND status IN ('decided', 'sent', 'done')
) ranked
WHERE rn = 1;

-- v_email_nights: every email sent, with the night that sent it (the sending run's moment,
-- as_of) beside the provider's clock (sent_at). Analytics time an email by its night: a rerun or
-- a replayed night sends later than its night, and the customer's clock is the night's.
CREATE VIEW v_email_nights AS
SELECT l.cohort_id, l.recipient AS email, l.kind, l.email_key, l.ref, l.sent_run_id,
       COALESCE(r.as_of, l.sent_at) AS night_at, l.sent_at, l.provider_message_id
FROM email_ledger l
LEFT JOIN runs r ON r.run_id = l.sent_run_id AND r.cohort_id = l.cohort_id
WHERE l.status = 'sent';

-- v_customer_facts: one row per customer of each cohort's latest run: standing, when they signed
-- up (their newest signup, as the rules keep it), completed, were first reminded, cancelled and
-- welcomed (the nights that sent those emails), and the run's moment (as_of); times as ISO text.
CREATE VIEW v_customer_facts AS
SELECT c.cohort_id, c.run_id, c.email, c.name, c.status,
       s.signed_up_at, c.completed_at,
       e.reminded_at, e.cancelled_at, e.welcomed_at, lr.as_of
FROM customer_status c
JOIN v_latest_run lr ON lr.run_id = c.run_id AND lr.cohort_id = c.cohort_id
LEFT JOIN (
    SELECT run_id, cohort_id, email, MAX(signed_up_at) AS signed_up_at
    FROM signups
    GROUP BY run_id, cohort_id, email
) s ON s.run_id = c.run_id AND s.cohort_id = c.cohort_id AND s.email = c.email
LEFT JOIN (
    SELECT cohort_id, email,
           MIN(CASE WHEN kind = 'reminder' THEN night_at END) AS reminded_at,
           MIN(CASE WHEN kind = 'cancellation' THEN night_at END) AS cancelled_at,
           MIN(CASE WHEN kind = 'welcome' THEN night_at END) AS welcomed_at
    FROM v_email_nights
    GROUP BY cohort_id, email
) e ON e.cohort_id = c.cohort_id AND e.email = c.email;
