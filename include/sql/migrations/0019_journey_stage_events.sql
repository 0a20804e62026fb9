-- Journeys in the analytics views, part 2: v_stage_events gains the stages of every journey
-- cohort (v_journey_visits, 0018); a seed cohort keeps its one 'onboarding' stage as before.
-- A view cannot be changed in place on SQLite, so the views built on it are dropped and made
-- again, unchanged from 0009 (a migration is history: 0009 stays as it was).
DROP VIEW v_cohort_comparison;
DROP VIEW v_bottleneck;
DROP VIEW v_stage_funnel;
DROP VIEW v_stage_events;

-- v_stage_events: one row per customer and journey stage of each cohort's latest run: when they
-- entered it, when they completed it, and the outcome so far (completed: done or approved;
-- missed: missed, or rejected or failed with no second try; held; open: in progress, overdue,
-- awaiting an approval or a CSM). A seed cohort's one stage, 'onboarding', is entered at signup
-- and completed by the completion export.
CREATE VIEW v_stage_events AS
SELECT cohort_id, email, 'onboarding' AS stage, 1 AS stage_order,
       signed_up_h AS entered_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN completed_h END AS completed_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN 'completed'
            WHEN status = 'missed' THEN 'missed'
            WHEN status = 'held' THEN 'held'
            ELSE 'open' END AS outcome
FROM v_customer_journey j
WHERE NOT EXISTS (SELECT 1 FROM v_journey_visits v WHERE v.run_id = j.run_id AND v.cohort_id = j.cohort_id)
UNION ALL
SELECT cohort_id, email, stage, stage_order, entered_h,
       CASE WHEN outcome IN ('completed', 'completed_late', 'approved') THEN completed_h END AS completed_h,
       CASE WHEN outcome IN ('completed', 'completed_late', 'approved') THEN 'completed'
            WHEN outcome IN ('missed', 'rejected', 'failed') THEN 'missed'
            WHEN outcome = 'held' THEN 'held'
            ELSE 'open' END AS outcome
FROM v_journey_visits;

-- v_stage_funnel: per cohort and stage, how many entered, completed, dropped out (missed), are
-- held or still open; the conversion (completed / entered) and drop-off (missed / entered); and
-- the time from entering to completing in hours, median and 90th percentile (nearest rank: the
-- smallest time at least half, or 90%, of the completers took no longer than).
CREATE VIEW v_stage_funnel AS
WITH timed AS (
    SELECT cohort_id, stage, stage_order, outcome,
           CASE WHEN completed_h IS NOT NULL AND entered_h IS NOT NULL AND completed_h >= entered_h
                THEN completed_h - entered_h END AS hours
    FROM v_stage_events
), ranked AS (
    SELECT timed.*,
           ROW_NUMBER() OVER (PARTITION BY cohort_id, stage
                              ORDER BY CASE WHEN hours IS NULL THEN 1 ELSE 0 END, hours) AS rn,
           COUNT(hours) OVER (PARTITION BY cohort_id, stage) AS timed_n
    FROM timed
)
SELECT cohort_id, stage, MIN(stage_order) AS stage_order,
       COUNT(*) AS entered,
       SUM(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END) AS dropped,
       SUM(CASE WHEN outcome = 'held' THEN 1 ELSE 0 END) AS held,
       SUM(CASE WHEN outcome = 'open' THEN 1 ELSE 0 END) AS still_open,
       CAST(SUM(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS conversion,
       CAST(SUM(CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS drop_off,
       MIN(CASE WHEN hours IS NOT NULL AND rn * 2 >= timed_n THEN hours END) AS median_hours,
       MIN(CASE WHEN hours IS NOT NULL AND rn * 10 >= timed_n * 9 THEN hours END) AS p90_hours
FROM ranked
GROUP BY cohort_id, stage;

-- v_bottleneck: per cohort, the stage that loses the largest share of those who entered it
-- (the earliest such stage on a tie).
CREATE VIEW v_bottleneck AS
SELECT cohort_id, stage, stage_order, entered, dropped, drop_off
FROM (
    SELECT f.*, ROW_NUMBER() OVER (PARTITION BY cohort_id ORDER BY drop_off DESC, stage_order) AS rn
    FROM v_stage_funnel f
) ranked
WHERE rn = 1;

-- v_cohort_comparison: one row per cohort, side by side: size, standings, the share on time,
-- the time to complete (median, p90 hours from signup), the drop-off and the reminder's lift.
CREATE VIEW v_cohort_comparison AS
SELECT f.cohort_id, f.run_id, f.as_of, f.signed_up, f.reminded, f.on_time, f.completed_late,
       f.missed, f.pending, f.held, f.on_time_rate,
       s.median_hours, s.p90_hours, s.drop_off,
       e.lift AS reminder_lift
FROM v_funnel f
LEFT JOIN v_stage_funnel s ON s.cohort_id = f.cohort_id AND s.stage = 'onboarding'
LEFT JOIN v_reminder_effect e ON e.cohort_id = f.cohort_id;
