-- Clear what one cohort's run decided, so that a retry of its decide stage rewrites it.
DELETE FROM customer_status WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM orphan_completions WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM decisions WHERE run_id = :run_id AND cohort_id = :cohort_id
