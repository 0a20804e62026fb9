-- Clear what one cohort's run staged, so that a retry of the same run rewrites it (upsert by run).
DELETE FROM signups WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM completions WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM quarantine WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM customer_status WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM orphan_completions WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM decisions WHERE run_id = :run_id AND cohort_id = :cohort_id
