-- One page of a cohort's customers (latest decided run), searched by email or name (:pattern is
-- a LIKE pattern on lower-case text with '!' escaping, '%' for all), with the nights their
-- emails went out and, in a journey cohort, the CSM who looks after them.
SELECT j.email, j.name, j.status, j.signed_up_at, j.completed_at,
       j.reminded_at, j.cancelled_at, j.welcomed_at, a.csm_name, a.csm_email
FROM v_customer_journey j
LEFT JOIN csm_assignments a ON a.cohort_id = j.cohort_id AND a.email = j.email
WHERE j.cohort_id = :cohort_id
  AND (LOWER(j.email) LIKE :pattern ESCAPE '!' OR LOWER(j.name) LIKE :pattern ESCAPE '!')
ORDER BY j.name, j.email
LIMIT :page_size OFFSET :page_offset
