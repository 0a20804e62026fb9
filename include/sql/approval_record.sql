-- An approval or rejection, with its author; the same answer recorded twice stays one row.
INSERT INTO approvals (cohort_id, email, stage, decision, decided_at, decided_by, reason, request, recorded_at)
VALUES (:cohort_id, :email, :stage, :decision, :decided_at, :decided_by, :reason, :request, :now)
ON CONFLICT (cohort_id, email, stage, decided_at) DO NOTHING
