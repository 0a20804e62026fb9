INSERT INTO completions (run_id, cohort_id, source_row, email, name, completed_at)
VALUES (:run_id, :cohort_id, :source_row, :email, :name, :completed_at)
