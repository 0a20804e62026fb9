INSERT INTO decisions (run_id, cohort_id, email, kind, outcome, reason, email_key, ref)
VALUES (:run_id, :cohort_id, :email, :kind, :outcome, :reason, :email_key, :ref)
