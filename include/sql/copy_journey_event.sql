-- PostgreSQL's bulk load of insert_journey_event.sql's rows (the same columns in the same order).
COPY journey_events (run_id, cohort_id, source_row, email, event, at, value, link) FROM STDIN
