-- A journey cohort's CSMs: how many of the run's customers each looks after, how many of those
-- wait on a person (anyone) and how many on the CSM.
SELECT a.csm_email, MAX(a.csm_name) AS csm_name, COUNT(*) AS customers,
       SUM(CASE WHEN EXISTS (SELECT 1 FROM journey_waiting w WHERE w.run_id = c.run_id AND w.cohort_id = c.cohort_id
                             AND w.email = c.email) THEN 1 ELSE 0 END) AS waiting,
       SUM(CASE WHEN EXISTS (SELECT 1 FROM journey_waiting w WHERE w.run_id = c.run_id AND w.cohort_id = c.cohort_id
                             AND w.email = c.email AND w.waits_on = 'csm') THEN 1 ELSE 0 END) AS waiting_on_csm
FROM customer_status c
JOIN csm_assignments a ON a.cohort_id = c.cohort_id AND a.email = c.email
WHERE c.run_id = :run_id AND c.cohort_id = :cohort_id
GROUP BY a.csm_email
ORDER BY MAX(a.csm_name), a.csm_email
