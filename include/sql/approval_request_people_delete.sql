-- A retry of a run's decide stage rewrites the requests it made, and whom they list.
DELETE FROM approval_request_people WHERE run_id = :run_id AND cohort_id = :cohort_id
