-- How many of a cohort's customers match a search (analytics_customers.sql).
SELECT COUNT(*) FROM v_customer_journey j
WHERE j.cohort_id = :cohort_id
  AND (LOWER(j.email) LIKE :pattern ESCAPE '!' OR LOWER(j.name) LIKE :pattern ESCAPE '!')
