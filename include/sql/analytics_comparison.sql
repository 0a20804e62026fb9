-- Every cohort side by side (v_cohort_comparison), newest runs first.
SELECT * FROM v_cohort_comparison ORDER BY as_of DESC, cohort_id
