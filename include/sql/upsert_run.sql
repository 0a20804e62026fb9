-- A cohort's run record: created at the first task, updated by each later one.
INSERT INTO runs (run_id, cohort_id, as_of, dry_run, status, error, inputs, counts, started_at, updated_at)
VALUES (:run_id, :cohort_id, :as_of, :dry_run, :status, :error, :inputs, :counts, :now, :now)
ON CONFLICT (run_id, cohort_id) DO UPDATE SET
    as_of = excluded.as_of,
    dry_run = excluded.dry_run,
    status = excluded.status,
    error = excluded.error,
    inputs = COALESCE(excluded.inputs, runs.inputs),
    counts = COALESCE(excluded.counts, runs.counts),
    updated_at = excluded.updated_at
