-- PostgreSQL's bulk load of insert_quarantine.sql's rows (the same columns in the same order).
COPY quarantine (run_id, cohort_id, source, source_row, column_name, reason, file, value, email)
FROM STDIN
