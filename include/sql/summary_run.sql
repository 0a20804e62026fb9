SELECT run_id, cohort_id, as_of, dry_run, status, error, inputs, counts, guards, started_at, updated_at,
       journey_digest, journey_version
FROM runs
WHERE run_id = :run_id AND cohort_id = :cohort_id
