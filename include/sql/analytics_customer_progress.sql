-- One customer's progress through stages of named evidences (all/any), night by night: which of
-- them she had done as of each run of the cohort, of how many.
SELECT r.run_id, r.as_of, v.stage, v.visit, v.evidence_done, v.evidence_of
FROM runs r
JOIN journey_visits v ON v.run_id = r.run_id AND v.cohort_id = r.cohort_id AND v.email = :email
WHERE r.cohort_id = :cohort_id AND v.evidence_of IS NOT NULL
ORDER BY r.as_of, r.started_at, v.stage, v.visit
