-- Figures that do not mislead (issue 23, point 11), for the page and the data team alike:
-- v_stage_funnel says how many completers its times are over (a step done before its stage opened,
-- a journey's backlog seen at once, is completed but not timed); v_bottleneck names a stage only
-- where a cohort has more than one to compare; v_reminder_effect says when its lift rests on too
-- few completions to mean much, and v_cohort_comparison carries that beside the lift.
-- A view cannot be changed in place on SQLite: the views are dropped and made again (0019's,
-- with these columns added; a migration is history, 0019 stays as it was).
DROP VIEW v_cohort_comparison;
DROP VIEW v_bottleneck;
DROP VIEW v_stage_funnel;
DROP VIEW v_reminder_effect;

-- v_stage_funnel: per cohort and stage, how many entered, completed, dropped out (missed), are
-- held or still open; the conversion (completed / entered) and drop-off (missed / entered); the
-- time from entering to completing in hours, median and 90th percentile (nearest rank: the
-- smallest time at least half, or 90%, of the timed completers took no longer than), over
-- `timed` completers: `done_before_open` completed it before the stage opened (their export row
-- is dated before they entered it), so they spent no time in it to measure.
CREATE VIEW v_stage_funnel AS
WITH timed AS (
    SELECT cohort_id, stage, stage_order, outcome,
           CASE WHEN completed_h IS NOT NULL AND entered_h IS NOT NULL AND completed_h >= entered_h
                THEN completed_h - entered_h END AS hours,
           CASE WHEN completed_h IS NOT NULL AND entered_h IS NOT NULL AND completed_h < entered_h
                THEN 1 ELSE 0 END AS before_open
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
       MIN(CASE WHEN hours IS NOT NULL AND rn * 10 >= timed_n * 9 THEN hours END) AS p90_hours,
       COUNT(hours) AS timed,
       SUM(CASE WHEN outcome = 'completed' THEN before_open ELSE 0 END) AS done_before_open
FROM ranked
GROUP BY cohort_id, stage;

-- v_bottleneck: per cohort with more than one stage, the stage that loses the largest share of
-- those who entered it (the earliest such stage on a tie). A one-stage cohort (a course) has no
-- other stage to compare with, so none of its stages is "the bottleneck": it has no row; nor has
-- a cohort where no stage lost anyone.
CREATE VIEW v_bottleneck AS
SELECT cohort_id, stage, stage_order, entered, dropped, drop_off
FROM (
    SELECT f.*, ROW_NUMBER() OVER (PARTITION BY cohort_id ORDER BY drop_off DESC, stage_order) AS rn,
           COUNT(*) OVER (PARTITION BY cohort_id) AS stages
    FROM v_stage_funnel f
) ranked
WHERE rn = 1 AND stages > 1 AND drop_off > 0;

-- v_reminder_effect: per cohort, did the reminder help? From the night the first reminders went
-- out: the cohort's completions in the 48 hours after it, against its completions per day in
-- the 7 days before it (lift = the rate after / the rate before; above 1: faster after the
-- reminder); and of the customers reminded, how many completed within 48 hours of their own
-- reminder. window_complete is 0 while the latest run is less than 48 hours past the reminder.
-- few_completions is 1 when either window counts fewer than reliable_from (30) completions: a
-- ratio of a handful of completions moves a lot by chance (2 after against 12 before reads
-- 0.58x), so the page shows such a lift as "few people, not a reliable figure".
CREATE VIEW v_reminder_effect AS
SELECT x.*,
       CAST(x.completed_48h_after AS DOUBLE PRECISION) / 2 AS per_day_after,
       CAST(x.completed_7d_before AS DOUBLE PRECISION) / 7 AS per_day_before,
       (CAST(x.completed_48h_after AS DOUBLE PRECISION) / 2)
           / NULLIF(CAST(x.completed_7d_before AS DOUBLE PRECISION) / 7, 0) AS lift,
       CASE WHEN x.completed_48h_after < 30 OR x.completed_7d_before < 30 THEN 1 ELSE 0 END AS few_completions,
       30 AS reliable_from
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
-- the time to complete (median, p90 hours from signup), the drop-off, the reminder's lift and
-- whether that lift rests on few completions (lift_few_completions, v_reminder_effect's rule).
CREATE VIEW v_cohort_comparison AS
SELECT f.cohort_id, f.run_id, f.as_of, f.signed_up, f.reminded, f.on_time, f.completed_late,
       f.missed, f.pending, f.held, f.on_time_rate,
       s.median_hours, s.p90_hours, s.drop_off,
       e.lift AS reminder_lift, e.few_completions AS lift_few_completions
FROM v_funnel f
LEFT JOIN v_stage_funnel s ON s.cohort_id = f.cohort_id AND s.stage = 'onboarding'
LEFT JOIN v_reminder_effect e ON e.cohort_id = f.cohort_id;
