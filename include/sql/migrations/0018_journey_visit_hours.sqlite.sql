-- Journeys in the analytics views (README, "Analytics views"), part 1: each stage's place in its
-- journey (written with every visit from this migration on), and v_journey_visits: one row per
-- customer and stage of each journey cohort's latest run, their latest visit (a second try after
-- a rejection stands for the stage), with its times as hours since 1970. Differs between SQLite
-- and PostgreSQL only in how a time becomes hours (as 0008 does).
ALTER TABLE journey_visits ADD COLUMN stage_order INTEGER;

CREATE VIEW v_journey_visits AS
SELECT run_id, cohort_id, email, stage, COALESCE(stage_order, 0) AS stage_order, visit, outcome,
       entered_at, completed_at,
       ((julianday(entered_at) - 2440587.5) * 24.0) AS entered_h,
       ((julianday(completed_at) - 2440587.5) * 24.0) AS completed_h
FROM (
    SELECT v.*, ROW_NUMBER() OVER (PARTITION BY v.cohort_id, v.email, v.stage ORDER BY v.visit DESC) AS latest
    FROM journey_visits v
    JOIN v_latest_run lr ON lr.run_id = v.run_id AND lr.cohort_id = v.cohort_id
) visits
WHERE latest = 1;
