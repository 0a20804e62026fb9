-- One page of a cohort's customers of its latest decided run (:run_id), by name, with when they
-- signed up (their newest signup) and, in a journey cohort, their CSM; every row carries how many
-- customers match (total: the count over the same filter, before the page is cut). Filters ('' for
-- all): :pattern, a LIKE pattern on lower-case email or name ('!' escapes; '%%' for all);
-- :standing, a standing as stored ('missed', 'details: overdue'); :stage, a LIKE pattern of a
-- stage's standings ('details: %'); :csm, the CSM's address; :needs, what they wait for
-- (journey_waiting's standing, 'overdue' with 'stuck', or 'any') and :waits_on, on whom
-- (instructor, csm). The signup time is looked up for the page's rows only.
SELECT p.email, p.name, p.status, p.completed_at,
       (SELECT MAX(s.signed_up_at) FROM signups s
         WHERE s.run_id = p.run_id AND s.cohort_id = p.cohort_id AND s.email = p.email) AS signed_up_at,
       p.csm_name, p.csm_email, p.total
FROM (
    SELECT c.run_id, c.cohort_id, c.email, c.name, c.status, c.completed_at, a.csm_name, a.csm_email,
           COUNT(*) OVER () AS total
    FROM customer_status c
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
    ORDER BY c.name, c.email
    LIMIT :page_size OFFSET :page_offset
) p
ORDER BY p.name, p.email
