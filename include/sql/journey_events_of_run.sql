-- A run's validated event rows at or before its moment: the evidence the journey engine reads.
SELECT email, event, at, value, link
FROM journey_events
WHERE run_id = :run_id AND cohort_id = :cohort_id AND at <= :as_of
ORDER BY email, at, source_row
