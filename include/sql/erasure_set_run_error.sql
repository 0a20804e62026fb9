-- A run's error text, with an erased person's address taken out.
UPDATE runs SET error = :text WHERE run_id = :run_id AND cohort_id = :cohort_id
