-- Stage shapes (issue 25): an optional stage undone at its due time is 'skipped' (the customer
-- went on without penalty). v_stage_events says so in its outcome instead of 'open', so the
-- stage funnel no longer counts those customers as still in the stage (its still_open links to
-- "those in this stage now"); entered = completed + dropped + held + still_open + skipped.
-- The columns are unchanged (0029's view, one CASE arm added), so the views built on it stay.
CREATE OR REPLACE VIEW v_stage_events AS
SELECT cohort_id, email, 'onboarding' AS stage, 1 AS stage_order,
       signed_up_h AS entered_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN completed_h END AS completed_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN 'completed'
            WHEN status = 'missed' THEN 'missed'
            WHEN status = 'held' THEN 'held'
            ELSE 'open' END AS outcome
FROM v_customer_journey j
WHERE NOT EXISTS (SELECT 1 FROM journey_visits v WHERE v.run_id = j.run_id AND v.cohort_id = j.cohort_id)
UNION ALL
SELECT cohort_id, email, stage, stage_order, entered_h,
       CASE WHEN outcome IN ('completed', 'completed_late', 'approved') THEN completed_h END AS completed_h,
       CASE WHEN outcome IN ('completed', 'completed_late', 'approved') THEN 'completed'
            WHEN outcome IN ('missed', 'rejected', 'failed') THEN 'missed'
            WHEN outcome = 'held' THEN 'held'
            WHEN outcome = 'skipped' THEN 'skipped'
            ELSE 'open' END AS outcome
FROM v_journey_visits;
