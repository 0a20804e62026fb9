-- How many emails a run considered, by kind, outcome and where the ledger stands on each now
-- (sent_now: sent by this very run): every count of the summary and the run record, in one pass.
SELECT d.kind, d.outcome, l.status AS ledger_status,
       CASE WHEN l.sent_run_id = :run_id THEN 1 ELSE 0 END AS sent_now, COUNT(*) AS n
FROM decisions d
LEFT JOIN email_ledger l ON l.email_key = d.email_key
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id
GROUP BY d.kind, d.outcome, l.status, CASE WHEN l.sent_run_id = :run_id THEN 1 ELSE 0 END
