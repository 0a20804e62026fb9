-- One customer's timeline: each run of the cohort that knew them, with their standing that
-- night and the input rows it came from (signup and completion rows by number; the run's input
-- manifests, with file and sha256, are in runs.inputs).
SELECT r.run_id, r.as_of, r.status AS run_status, r.dry_run, r.inputs,
       c.name, c.status, c.completed_at,
       (SELECT MAX(s.source_row) FROM signups s
         WHERE s.run_id = r.run_id AND s.cohort_id = r.cohort_id AND s.email = :email) AS signup_row,
       (SELECT MIN(s.signed_up_at) FROM signups s
         WHERE s.run_id = r.run_id AND s.cohort_id = r.cohort_id AND s.email = :email) AS signed_up_at,
       (SELECT MIN(k.source_row) FROM completions k
         WHERE k.run_id = r.run_id AND k.cohort_id = r.cohort_id AND k.email = :email) AS completion_row
FROM runs r
JOIN customer_status c ON c.run_id = r.run_id AND c.cohort_id = r.cohort_id AND c.email = :email
WHERE r.cohort_id = :cohort_id
ORDER BY r.as_of, r.started_at
