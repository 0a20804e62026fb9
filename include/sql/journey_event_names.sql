-- Every event name the cohort's exports carried at or before a moment, in any run kept: a stage
-- whose event is never among them waits on a name no export carries (misspelt, or an export that
-- lacks it). Rows dated after :as_of are left out, so a replay of an earlier night reads the same.
SELECT DISTINCT event
FROM journey_events
WHERE cohort_id = :cohort_id AND at <= :as_of
