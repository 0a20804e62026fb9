-- The effect of a change (issue 28): every run records which version of its cohort's journey it
-- walked: journey_digest, a hash of the journey's definition (canonical: spacing, key order and
-- comments do not change it), and journey_version, its label (the file's `version:`, or the short
-- hash). NULL for runs from before this migration (and for a run that stopped before reading).
ALTER TABLE runs ADD COLUMN journey_digest TEXT;
ALTER TABLE runs ADD COLUMN journey_version TEXT;

-- v_run_versions: a cohort's real (not dry) runs that recorded their journey's version, with the
-- run's moment in hours since 1970 (as v_journey_visits' entered_h), and the moment of the cohort's
-- previous such run (NULL for its first). A customer entering a stage between two runs is first
-- walked by the later one: that run's version is the one "in force when they entered" the stage
-- (analytics_version_stages.sql). The hours are the one thing each database writes its own way.
CREATE VIEW v_run_versions AS
SELECT cohort_id, run_id, journey_digest, journey_version, as_of_h,
       LAG(as_of_h) OVER (PARTITION BY cohort_id ORDER BY as_of_h, run_id) AS previous_h
FROM (
    SELECT cohort_id, run_id, journey_digest, journey_version, ((julianday(as_of) - 2440587.5) * 24.0) AS as_of_h
    FROM runs
    WHERE dry_run = 0 AND journey_digest IS NOT NULL
) r;
