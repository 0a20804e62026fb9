-- How many of a cohort's customers match a search and filters (analytics_customers.sql).
SELECT COUNT(*) FROM customer_status c
LEFT JOIN csm_assignments a ON a.cohort_id = c.cohort_id AND a.email = c.email
WHERE c.run_id = :run_id AND c.cohort_id = :cohort_id
  AND (:pattern = '%%' OR LOWER(c.email) LIKE :pattern ESCAPE '!' OR LOWER(c.name) LIKE :pattern ESCAPE '!')
  AND (:standing = '' OR c.status = :standing)
  AND (:stage = '' OR c.status LIKE :stage ESCAPE '!')
  AND (:csm = '' OR a.csm_email = :csm)
  AND (:needs = '' OR EXISTS (
        SELECT 1 FROM journey_waiting w
        WHERE w.run_id = c.run_id AND w.cohort_id = c.cohort_id AND w.email = c.email
          AND (:needs = 'any' OR w.standing = :needs OR (:needs = 'overdue' AND w.standing = 'stuck'))
          AND (:waits_on = '' OR w.waits_on = :waits_on)))
