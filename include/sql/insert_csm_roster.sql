INSERT INTO csm_roster (run_id, cohort_id, source_row, email, name, capacity, attributes)
VALUES (:run_id, :cohort_id, :source_row, :email, :name, :capacity, :attributes)
