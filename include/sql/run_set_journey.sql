-- The version of its cohort's journey a run walked (recorded when it reads its inputs).
UPDATE runs SET journey_digest = :digest, journey_version = :version
WHERE run_id = :run_id AND cohort_id = :cohort_id
