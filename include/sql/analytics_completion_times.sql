-- One cohort's completion times and reminder nights, for the completions-per-day chart.
SELECT completed_at, reminded_at, status FROM v_customer_journey
WHERE cohort_id = :cohort_id AND (completed_at IS NOT NULL OR reminded_at IS NOT NULL)
