-- How many emails a run considered, by kind, outcome and where the ledger stands on each now
-- (sent_now: sent by this very run; suppressed_late: taken off the queue at send time because the
-- address was suppressed after the run decided): every count of the summary and the run record.
SELECT d.kind, d.outcome, l.status AS ledger_status,
       CASE WHEN l.sent_run_id = :run_id THEN 1 ELSE 0 END AS sent_now,
       CASE WHEN l.status = 'superseded' AND l.last_error LIKE 'suppressed%' THEN 1 ELSE 0 END AS suppressed_late,
       COUNT(*) AS n
FROM decisions d
LEFT JOIN email_ledger l
  ON l.cohort_id = d.cohort_id AND l.recipient = d.email AND l.kind = d.kind AND l.stage = d.stage
 AND l.visit = d.visit AND l.resend_run_id = d.resend_run_id AND l.retry = d.retry AND l.per_run_id = ''
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id
GROUP BY d.kind, d.outcome, l.status, CASE WHEN l.sent_run_id = :run_id THEN 1 ELSE 0 END,
         CASE WHEN l.status = 'superseded' AND l.last_error LIKE 'suppressed%' THEN 1 ELSE 0 END
