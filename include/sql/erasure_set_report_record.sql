-- The data team's run record, with an erased person's address taken out.
UPDATE run_reports SET record = :text WHERE run_id = :run_id AND cohort_id = :cohort_id
