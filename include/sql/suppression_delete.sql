-- Take an address (or '@domain') off the suppression list, for one cohort or for all ('*').
DELETE FROM suppressions WHERE address = :address AND cohort_id = :cohort_id
