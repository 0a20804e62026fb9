SELECT COUNT(*) AS n FROM email_ledger
WHERE cohort_id = :cohort_id AND per_run_id = ''
