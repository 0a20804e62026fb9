-- The cohort's most recent earlier run that decided on its inputs and was not held: the baseline
-- a run's inputs are compared with. A held run (a guard tripped) is never a baseline, or the
-- shrunk export it held would become the norm the next night. Dry runs do not count either.
SELECT run_id, counts, started_at
FROM runs
WHERE cohort_id = :cohort_id AND run_id <> :run_id AND dry_run = 0
  AND status IN ('decided', 'sent', 'done') AND started_at < :started_at
ORDER BY started_at DESC
LIMIT 1
