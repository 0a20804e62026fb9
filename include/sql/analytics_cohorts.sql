-- The Cohorts page: every cohort with a run, its latest run of any kind (held, failed, done; not
-- dry runs) beside the standings of its latest decided run (v_funnel), and that run's Data Docs.
SELECT lr.cohort_id, lr.run_id AS last_run_id, lr.as_of AS last_as_of, lr.status AS last_status,
       lr.error AS last_error, rep.data_docs AS last_data_docs,
       f.run_id AS decided_run_id, f.signed_up, f.reminded, f.completed, f.on_time, f.completed_late,
       f.missed, f.pending, f.held, f.on_time_rate
FROM (
    SELECT cohort_id, run_id, as_of, status, error,
           ROW_NUMBER() OVER (PARTITION BY cohort_id ORDER BY as_of DESC, started_at DESC) AS rn
    FROM runs
    WHERE dry_run = 0
) lr
LEFT JOIN v_funnel f ON f.cohort_id = lr.cohort_id
LEFT JOIN run_reports rep ON rep.run_id = lr.run_id AND rep.cohort_id = lr.cohort_id
WHERE lr.rn = 1
ORDER BY lr.cohort_id
