-- The cohort's most recent earlier run that read its inputs (not a dry run), for comparisons.
SELECT run_id, counts, started_at
FROM runs
WHERE cohort_id = :cohort_id AND run_id <> :run_id AND dry_run = 0
  AND status IN ('decided', 'sent', 'done', 'held') AND started_at < :started_at
ORDER BY started_at DESC
LIMIT 1
