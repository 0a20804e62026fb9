-- A journey cohort's reminders sent (every run, as the ledger holds them), by stage: how many and
-- to how many customers, and the first and latest night that sent one.
SELECT l.stage, COUNT(*) AS sent, COUNT(DISTINCT l.recipient) AS customers,
       MIN(n.night_at) AS first_at, MAX(n.night_at) AS last_at
FROM v_email_nights n
JOIN email_ledger l ON l.email_key = n.email_key
WHERE n.cohort_id = :cohort_id AND l.per_run_id = '' AND (l.kind = 'reminder' OR (l.stage <> '' AND substr(l.kind, length(l.stage) + 2) LIKE 'reminder%'))
GROUP BY l.stage
ORDER BY MIN(n.night_at), l.stage
