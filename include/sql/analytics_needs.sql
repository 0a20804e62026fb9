-- Who waits on a person after a cohort's run (journey_waiting, as the CSMs' digests and her
-- summary count them): customers by what they wait for and on whom.
SELECT standing, waits_on, COUNT(DISTINCT email) AS n
FROM journey_waiting
WHERE run_id = :run_id AND cohort_id = :cohort_id
GROUP BY standing, waits_on
