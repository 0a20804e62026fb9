-- The names a person was known by (their signups), for an erasure to find them where only the
-- name is written (an approval request's text in Airflow's database).
SELECT DISTINCT name FROM signups
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope) AND name IS NOT NULL AND name <> ''
