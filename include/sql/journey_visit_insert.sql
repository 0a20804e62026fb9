-- One customer's visit to one stage, as a run saw it.
INSERT INTO journey_visits (run_id, cohort_id, email, stage, visit, entered_at, due_at, completed_at, score, outcome,
                            decided_at, decided_by, link, stage_order, evidence_done, evidence_of)
VALUES (:run_id, :cohort_id, :email, :stage, :visit, :entered_at, :due_at, :completed_at, :score, :outcome,
        :decided_at, :decided_by, :link, :stage_order, :evidence_done, :evidence_of)
