-- A run's journey visits, before it writes them again (a retry replaces them whole).
DELETE FROM journey_visits WHERE run_id = :run_id AND cohort_id = :cohort_id
