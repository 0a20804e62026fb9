-- Completions at or before :as_of whose email matches no signup of the cohort (valid or
-- quarantined): listed for the instructor, never emailed.
SELECT c.email, MIN(c.completed_at) AS completed_at, MIN(c.source_row) AS source_row
FROM completions c
WHERE c.run_id = :run_id AND c.cohort_id = :cohort_id AND c.completed_at <= :as_of
  AND NOT EXISTS (
      SELECT 1 FROM signups s
      WHERE s.run_id = c.run_id AND s.cohort_id = c.cohort_id AND s.email = c.email)
  AND NOT EXISTS (
      SELECT 1 FROM quarantine q
      WHERE q.run_id = c.run_id AND q.cohort_id = c.cohort_id AND q.source = 'signups'
        AND q.email = c.email)
GROUP BY c.email
ORDER BY c.email
