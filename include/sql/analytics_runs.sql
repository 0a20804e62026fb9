-- The runs of a cohort, newest first, with their outcome, error and report (the Cohort page's
-- run list).
SELECT r.run_id, r.as_of, r.status, r.dry_run, r.error, r.guards, rep.data_docs,
       rep.emails_sent, rep.emails_waiting, rep.emails_failed, rep.quarantined_rows
FROM runs r
LEFT JOIN run_reports rep ON rep.run_id = r.run_id AND rep.cohort_id = r.cohort_id
WHERE r.cohort_id = :cohort_id
ORDER BY r.as_of DESC, r.started_at DESC
LIMIT :list_limit
