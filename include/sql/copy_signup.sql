-- PostgreSQL's bulk load of insert_signup.sql's rows (the same columns in the same order).
COPY signups (run_id, cohort_id, source_row, email, name, signed_up_at, first_name, consent, attributes) FROM STDIN
