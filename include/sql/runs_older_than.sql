-- A cohort's runs started before :cutoff: their folders are past the retention period.
SELECT run_id, started_at FROM runs
WHERE cohort_id = :cohort_id AND started_at < :cutoff
ORDER BY started_at
