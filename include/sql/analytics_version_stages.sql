-- A journey cohort's stages by journey version (the effect of a change): each customer's visit of
-- a stage (v_stage_events, the latest run) counts under the version of the first real run that
-- walked them in it: the run whose moment is at or after their entering, the one before it
-- earlier (v_run_versions.previous_h); one who entered after the latest such run, under the
-- latest's. Per version and stage: how many entered, completed, were cancelled or rejected for
-- good (missed), are still in it; the median hours in it (nearest rank, as v_stage_funnel) over
-- those timed; and the version's first and last run.
WITH versioned AS (
    SELECT e.stage, e.stage_order, e.outcome,
           CASE WHEN e.completed_h IS NOT NULL AND e.entered_h IS NOT NULL AND e.completed_h >= e.entered_h
                THEN e.completed_h - e.entered_h END AS hours,
           COALESCE(
               (SELECT v.journey_version FROM v_run_versions v
                WHERE v.cohort_id = e.cohort_id AND v.as_of_h >= e.entered_h
                  AND (v.previous_h IS NULL OR v.previous_h < e.entered_h)),
               (SELECT v.journey_version FROM v_run_versions v
                WHERE v.cohort_id = e.cohort_id ORDER BY v.as_of_h DESC, v.run_id DESC LIMIT 1)
           ) AS journey_version
    FROM v_stage_events e
    WHERE e.cohort_id = :cohort_id
), ranked AS (
    SELECT versioned.*,
           ROW_NUMBER() OVER (PARTITION BY journey_version, stage
                              ORDER BY CASE WHEN hours IS NULL THEN 1 ELSE 0 END, hours) AS rn,
           COUNT(hours) OVER (PARTITION BY journey_version, stage) AS timed_n
    FROM versioned
    WHERE journey_version IS NOT NULL
)
SELECT journey_version, stage, MIN(stage_order) AS stage_order,
       COUNT(*) AS entered,
       SUM(CASE WHEN outcome = 'completed' THEN 1 ELSE 0 END) AS completed,
       SUM(CASE WHEN outcome = 'missed' THEN 1 ELSE 0 END) AS dropped,
       SUM(CASE WHEN outcome = 'open' THEN 1 ELSE 0 END) AS still_open,
       MIN(CASE WHEN hours IS NOT NULL AND rn * 2 >= timed_n THEN hours END) AS median_hours,
       COUNT(hours) AS timed,
       (SELECT MIN(v.as_of_h) FROM v_run_versions v WHERE v.cohort_id = :cohort_id
        AND v.journey_version = ranked.journey_version) AS first_h
FROM ranked
GROUP BY journey_version, stage
ORDER BY first_h, journey_version, stage_order
