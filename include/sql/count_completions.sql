-- Validated completion rows a cohort's run staged.
SELECT COUNT(*) AS n FROM completions WHERE run_id = :run_id AND cohort_id = :cohort_id
