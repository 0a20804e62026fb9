-- Customers of one cohort as of a run's moment: the validated signups collapsed to one row per
-- normalised email, each with the earliest completion recorded at or before :as_of.
-- The name (and first name) comes from the customer's last signup row (the newest form entry wins).
-- held = 1 when a completion row (or a journey's event row) naming the customer was quarantined:
-- we cannot tell whether they completed (an unreadable time may be the step done on time), so the
-- decisions send them nothing, and cancel nobody, until the export is fixed.
-- One statement for the whole cohort; every join and the EXISTS are served by an index
-- (migrations/0006), so it grows as N log N on SQLite and PostgreSQL alike.
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
)
SELECT s.email, su.name, su.first_name, su.consent, su.attributes, d.completed_at,
       CASE WHEN EXISTS (
           SELECT 1 FROM quarantine q
           WHERE q.run_id = :run_id AND q.cohort_id = :cohort_id AND q.source IN ('completions', 'events')
             AND q.email = s.email) THEN 1 ELSE 0 END AS held
FROM signed s
JOIN signups su
  ON su.run_id = :run_id AND su.cohort_id = :cohort_id AND su.source_row = s.last_row
LEFT JOIN done d ON d.email = s.email
ORDER BY s.email
