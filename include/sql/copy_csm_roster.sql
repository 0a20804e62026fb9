-- PostgreSQL's bulk load of insert_csm_roster.sql's rows (the same columns in the same order).
COPY csm_roster (run_id, cohort_id, source_row, email, name, capacity, attributes) FROM STDIN
