SELECT COUNT(*) AS n FROM quarantine WHERE run_id = :run_id AND cohort_id = :cohort_id
