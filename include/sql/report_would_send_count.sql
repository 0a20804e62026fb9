SELECT COUNT(*) AS n FROM decisions
WHERE run_id = :run_id AND cohort_id = :cohort_id AND outcome = 'would_send'
