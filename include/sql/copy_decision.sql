-- PostgreSQL's bulk load of insert_decision.sql's rows (the same columns in the same order).
COPY decisions (run_id, cohort_id, email, kind, outcome, reason, email_key, ref, stage, visit, resend_run_id,
                       retry) FROM STDIN
