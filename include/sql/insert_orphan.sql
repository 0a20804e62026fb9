INSERT INTO orphan_completions (run_id, cohort_id, email, completed_at, source_row)
VALUES (:run_id, :cohort_id, :email, :completed_at, :source_row)
