-- A journey cohort's customers of its latest run by where they stand: '<stage>: <standing>' while
-- in a stage (awaiting_approval, overdue, waiting_for_csm...), else done, cancelled, rejected, held.
SELECT c.status, COUNT(*) AS n
FROM customer_status c
JOIN v_latest_run lr ON lr.run_id = c.run_id AND lr.cohort_id = c.cohort_id
WHERE c.cohort_id = :cohort_id
GROUP BY c.status
ORDER BY c.status
