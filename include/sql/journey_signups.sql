-- When each customer of a run first signed up (at or before its moment): a journey's first stage
-- is entered then, and durations "after signup" count from it.
SELECT email, MIN(signed_up_at) AS signed_up_at
FROM signups
WHERE run_id = :run_id AND cohort_id = :cohort_id AND signed_up_at IS NOT NULL AND signed_up_at <= :as_of
GROUP BY email
