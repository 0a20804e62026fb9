-- Customers not (yet) on time as of the run, for the instructor: the first :list_limit by
-- standing and name (the counts say how many in all; report/status.csv has everyone).
SELECT email, name, status, completed_at
FROM customer_status
WHERE run_id = :run_id AND cohort_id = :cohort_id
  AND status IN ('pending', 'missed', 'completed_late', 'held')
ORDER BY status, name, email
LIMIT :list_limit
