INSERT INTO quarantine (run_id, cohort_id, source, source_row, column_name, reason, file, value, email)
VALUES (:run_id, :cohort_id, :source, :source_row, :column_name, :reason, :file, :value, :email)
