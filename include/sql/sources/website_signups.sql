-- Signups for one cohort from the website's database (an example: adapt it to your schema and
-- point a `sql` source at it). :cohort_id is bound by the pipeline to the cohort's id; any other
-- :name comes from the source's `parameters` in config/cohorts.yaml. Never format values into
-- this text.
SELECT email, full_name, created_at
FROM course_signups
WHERE cohort_code = :cohort_id
  AND status <> :excluded_status
ORDER BY created_at, email
