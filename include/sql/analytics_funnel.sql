-- One cohort's standings funnel (v_funnel).
SELECT * FROM v_funnel WHERE cohort_id = :cohort_id
