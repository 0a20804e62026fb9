INSERT INTO journey_events (run_id, cohort_id, source_row, email, event, at, value, link)
VALUES (:run_id, :cohort_id, :source_row, :email, :event, :at, :value, :link)
