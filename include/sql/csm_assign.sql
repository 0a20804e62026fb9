-- Record a CSM assignment. Sticky: a customer who has one keeps it (a rerun places nobody twice).
INSERT INTO csm_assignments (cohort_id, email, csm_email, csm_name, assigned_at, run_id)
VALUES (:cohort_id, :email, :csm_email, :csm_name, :assigned_at, :run_id)
ON CONFLICT (cohort_id, email) DO NOTHING
