-- Clear the rows one cohort's run staged from its exports, so that a retry of the same run
-- rewrites them (upsert by run). What was decided from them is cleared by delete_run_decisions.
DELETE FROM signups WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM completions WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM journey_events WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM csm_roster WHERE run_id = :run_id AND cohort_id = :cohort_id;
DELETE FROM quarantine WHERE run_id = :run_id AND cohort_id = :cohort_id
