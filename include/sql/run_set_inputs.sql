-- A run's input manifests after an erasure rewrote its snapshots (new sha256, with a note).
UPDATE runs SET inputs = :inputs WHERE run_id = :run_id AND cohort_id = :cohort_id
