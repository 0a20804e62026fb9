-- A retry of a run's decide stage rewrites the requests it made.
DELETE FROM approval_requests WHERE run_id = :run_id AND cohort_id = :cohort_id
