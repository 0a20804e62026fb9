-- One cohort's bottleneck stage (v_bottleneck).
SELECT * FROM v_bottleneck WHERE cohort_id = :cohort_id
