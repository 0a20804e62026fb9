UPDATE runs SET guards = :guards, updated_at = :now
WHERE run_id = :run_id AND cohort_id = :cohort_id
