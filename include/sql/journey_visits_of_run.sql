-- A run's journey visits, customer by customer, in the order they happened.
SELECT email, stage, visit, entered_at, due_at, completed_at, score, outcome, decided_at, decided_by,
       evidence_done, evidence_of
FROM journey_visits
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY email, entered_at, stage, visit
