INSERT INTO journey_waiting (run_id, cohort_id, email, item, standing, waits_on, csm_email, since, escalated)
VALUES (:run_id, :cohort_id, :email, :item, :standing, :waits_on, :csm_email, :since, :escalated)
