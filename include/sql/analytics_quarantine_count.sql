-- How many quarantined rows (a row with two problems: two lines) a run has.
SELECT COUNT(*) FROM quarantine WHERE run_id = :run_id AND cohort_id = :cohort_id
