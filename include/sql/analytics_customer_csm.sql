-- The CSM who looks after one customer of a journey cohort (none: not placed yet, or no CSM stage).
SELECT csm_name, csm_email, assigned_at, run_id
FROM csm_assignments
WHERE cohort_id = :cohort_id AND email = :email
