SELECT email, kind FROM decisions WHERE run_id = :run_id AND cohort_id = :cohort_id
