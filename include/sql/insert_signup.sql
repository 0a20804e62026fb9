INSERT INTO signups (run_id, cohort_id, source_row, email, name, signed_up_at, first_name, consent, attributes)
VALUES (:run_id, :cohort_id, :source_row, :email, :name, :signed_up_at, :first_name, :consent, :attributes)
