-- Every cohort with a decided run (v_latest_run): the cohorts the comparison shows.
SELECT cohort_id, run_id AS decided_run_id FROM v_latest_run ORDER BY cohort_id
