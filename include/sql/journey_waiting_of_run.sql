-- Who waits on a person after a run, with their name and CSM, longest waiting first.
SELECT w.email, c.name, w.item, w.standing, w.waits_on, w.csm_email, a.csm_name, w.since, w.escalated
FROM journey_waiting w
LEFT JOIN customer_status c ON c.run_id = w.run_id AND c.cohort_id = w.cohort_id AND c.email = w.email
LEFT JOIN csm_assignments a ON a.cohort_id = w.cohort_id AND a.email = w.email
WHERE w.run_id = :run_id AND w.cohort_id = :cohort_id
ORDER BY w.waits_on, w.csm_email, w.since, w.email
