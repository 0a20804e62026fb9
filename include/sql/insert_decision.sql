INSERT INTO decisions (run_id, cohort_id, email, kind, outcome, reason, email_key, ref, stage, visit,
                       resend_run_id, retry)
VALUES (:run_id, :cohort_id, :email, :kind, :outcome, :reason, :email_key, :ref, :stage, :visit,
        :resend_run_id, :retry)
