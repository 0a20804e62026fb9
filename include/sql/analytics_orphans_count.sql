-- How many completions with no signup a run has.
SELECT COUNT(*) FROM orphan_completions WHERE run_id = :run_id AND cohort_id = :cohort_id
