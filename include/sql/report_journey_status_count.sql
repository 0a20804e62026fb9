SELECT COUNT(*) AS n FROM customer_status WHERE run_id = :run_id AND cohort_id = :cohort_id
