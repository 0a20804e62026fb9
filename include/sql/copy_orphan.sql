-- PostgreSQL's bulk load of insert_orphan.sql's rows (the same columns in the same order).
COPY orphan_completions (run_id, cohort_id, email, completed_at, source_row) FROM STDIN
