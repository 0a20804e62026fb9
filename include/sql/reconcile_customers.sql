-- Customers of one cohort as of a run's moment: the validated signups collapsed to one row per
-- normalised email, each with the earliest completion recorded at or before :as_of.
-- The name comes from the customer's last signup row (the newest form entry wins).
-- held = 1 when a completion row naming the customer was quarantined: we cannot tell whether
-- they completed, so the decisions send them nothing until the export is fixed.
WITH signed AS (
    SELECT email, MAX(source_row) AS last_row
    FROM signups
    WHERE run_id = :run_id AND cohort_id = :cohort_id
      AND (signed_up_at IS NULL OR signed_up_at <= :as_of)
    GROUP BY email
),
done AS (
    SELECT email, MIN(completed_at) AS completed_at
    FROM completions
    WHERE run_id = :run_id AND cohort_id = :cohort_id AND completed_at <= :as_of
    GROUP BY email
),
held AS (
    SELECT DISTINCT email
    FROM quarantine
    WHERE run_id = :run_id AND cohort_id = :cohort_id AND source = 'completions' AND email IS NOT NULL
)
SELECT s.email, su.name, d.completed_at, CASE WHEN h.email IS NULL THEN 0 ELSE 1 END AS held
FROM signed s
JOIN signups su
  ON su.run_id = :run_id AND su.cohort_id = :cohort_id AND su.source_row = s.last_row
LEFT JOIN done d ON d.email = s.email
LEFT JOIN held h ON h.email = s.email
ORDER BY s.email
