-- PostgreSQL's bulk load of insert_customer_status.sql's rows (the same columns in the same order).
COPY customer_status (run_id, cohort_id, email, name, completed_at, status, first_name, consent, language) FROM STDIN
