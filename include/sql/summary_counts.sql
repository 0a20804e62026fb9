-- Customers of a run by standing.
SELECT status, COUNT(*) AS n
FROM customer_status
WHERE run_id = :run_id AND cohort_id = :cohort_id
GROUP BY status
ORDER BY status
