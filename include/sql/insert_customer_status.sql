INSERT INTO customer_status (run_id, cohort_id, email, name, completed_at, status, first_name, consent, language)
VALUES (:run_id, :cohort_id, :email, :name, :completed_at, :status, :first_name, :consent, :language)
