SELECT COUNT(*) AS n FROM orphan_completions WHERE run_id = :run_id AND cohort_id = :cohort_id
