-- The analytics views the Onboarding page shows and the data team queries (README, "Analytics
-- views"). All are built on v_customer_journey (0008), so they describe each cohort's latest run.
-- Shares and rates are DOUBLE PRECISION on both databases; counts are integers.

-- v_stage_events: one row per customer and journey stage: when they entered it, when they
-- completed it, and the outcome so far (completed, missed, held, open). Today's process is one
-- stage, "onboarding", entered at signup and completed by the completion export; a journey with
-- more stages adds its rows here.
CREATE VIEW v_stage_events AS
SELECT cohort_id, email, 'onboarding' AS stage, 1 AS stage_order,
       signed_up_h AS entered_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN completed_h END AS completed_h,
       CASE WHEN status IN ('on_time', 'completed_late') THEN 'completed'
            WHEN status = 'missed' THEN 'missed'
            WHEN status = 'held' THEN 'held'
            ELSE 'open' END AS outcome
FROM v_customer_journey;

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

-- v_funnel: per cohort, its customers by standing: signed up, reminded, completed on time,
-- completed late, missed, pending (not yet, the deadline ahead), held (a row naming them was
-- quarantined), and the share on time.
CREATE VIEW v_funnel AS
SELECT cohort_id, run_id, MIN(as_of) AS as_of,
       COUNT(*) AS signed_up,
       COUNT(reminded_at) AS reminded,
       SUM(CASE WHEN status IN ('on_time', 'completed_late') THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN status = 'on_time' THEN 1 ELSE 0 END) AS on_time,
       SUM(CASE WHEN status = 'completed_late' THEN 1 ELSE 0 END) AS completed_late,
       SUM(CASE WHEN status = 'missed' THEN 1 ELSE 0 END) AS missed,
       SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN status = 'held' THEN 1 ELSE 0 END) AS held,
       CAST(SUM(CASE WHEN status = 'on_time' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS on_time_rate
FROM v_customer_journey
GROUP BY cohort_id, run_id;

-- v_reminder_effect: per cohort, did the reminder help? From the night the first reminders went
-- out: the cohort's completions in the 48 hours after it, against its completions per day in
-- the 7 days before it (lift = the rate after / the rate before; above 1: faster after the
-- reminder); and of the customers reminded, how many completed within 48 hours of their own
-- reminder. window_complete is 0 while the latest run is less than 48 hours past the reminder.
CREATE VIEW v_reminder_effect AS
SELECT x.*,
       CAST(x.completed_48h_after AS DOUBLE PRECISION) / 2 AS per_day_after,
       CAST(x.completed_7d_before AS DOUBLE PRECISION) / 7 AS per_day_before,
       (CAST(x.completed_48h_after AS DOUBLE PRECISION) / 2)
           / NULLIF(CAST(x.completed_7d_before AS DOUBLE PRECISION) / 7, 0) AS lift
FROM (
    SELECT r.cohort_id, r.reminder_at, r.reminded,
           SUM(CASE WHEN j.reminded_h IS NOT NULL AND j.completed_h >= j.reminded_h
                     AND j.completed_h < j.reminded_h + 48 THEN 1 ELSE 0 END) AS reminded_completed_48h,
           SUM(CASE WHEN j.completed_h >= r.reminder_h AND j.completed_h < r.reminder_h + 48
                    THEN 1 ELSE 0 END) AS completed_48h_after,
           SUM(CASE WHEN j.completed_h >= r.reminder_h - 168 AND j.completed_h < r.reminder_h
                    THEN 1 ELSE 0 END) AS completed_7d_before,
           CASE WHEN MAX(j.as_of_h) >= r.reminder_h + 48 THEN 1 ELSE 0 END AS window_complete
    FROM (
        SELECT cohort_id, MIN(reminded_at) AS reminder_at, MIN(reminded_h) AS reminder_h,
               COUNT(reminded_h) AS reminded
        FROM v_customer_journey
        GROUP BY cohort_id
    ) r
    JOIN v_customer_journey j ON j.cohort_id = r.cohort_id
    WHERE r.reminder_h IS NOT NULL
    GROUP BY r.cohort_id, r.reminder_at, r.reminded, r.reminder_h
) x;

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
