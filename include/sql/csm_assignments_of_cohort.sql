-- Every CSM assignment of a cohort, in the order they were made.
SELECT email, csm_email, csm_name, assigned_at, run_id
FROM csm_assignments
WHERE cohort_id = :cohort_id
ORDER BY assigned_at, email
