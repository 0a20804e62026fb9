-- PostgreSQL's bulk load of insert_completion.sql's rows (the same columns in the same order).
COPY completions (run_id, cohort_id, source_row, email, name, completed_at) FROM STDIN
