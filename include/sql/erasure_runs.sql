-- The runs whose folders may quote a person: every run of the scope (an erasure reads each
-- folder and rewrites only the files that name them).
SELECT run_id, cohort_id, inputs FROM runs WHERE (:scope = '*' OR cohort_id = :scope) ORDER BY started_at
