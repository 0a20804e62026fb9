-- A retry of a run's decide stage rewrites who waits on whom.
DELETE FROM journey_waiting WHERE run_id = :run_id AND cohort_id = :cohort_id
