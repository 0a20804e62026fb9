-- The Cohorts page: every cohort with a run, its latest run of any kind (held, failed, done; not
-- dry runs), that run's Data Docs, and its latest decided run (whose standings are the page's kept
-- figures: Analytics.cohorts adds them from v_funnel, every customer, on each request).
SELECT lr.cohort_id, lr.run_id AS last_run_id, lr.as_of AS last_as_of, lr.status AS last_status,
       lr.error AS last_error, rep.data_docs AS last_data_docs, d.run_id AS decided_run_id
FROM (
    SELECT cohort_id, run_id, as_of, status, error,
           ROW_NUMBER() OVER (PARTITION BY cohort_id ORDER BY as_of DESC, started_at DESC) AS rn
    FROM runs
    WHERE dry_run = 0
) lr
LEFT JOIN v_latest_run d ON d.cohort_id = lr.cohort_id
LEFT JOIN run_reports rep ON rep.run_id = lr.run_id AND rep.cohort_id = lr.cohort_id
WHERE lr.rn = 1
ORDER BY lr.cohort_id
