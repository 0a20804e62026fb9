-- Stored texts that may quote a person (:pattern: the address as a LIKE pattern, its % and _
-- escaped with \): a run's error and the data team's run record. The caller rewrites them.
SELECT 'runs' AS tbl, run_id, cohort_id, error AS text FROM runs
WHERE LOWER(COALESCE(error, '')) LIKE :pattern ESCAPE '\' AND (:scope = '*' OR cohort_id = :scope)
UNION ALL
SELECT 'run_reports' AS tbl, run_id, cohort_id, record AS text FROM run_reports
WHERE LOWER(record) LIKE :pattern ESCAPE '\' AND (:scope = '*' OR cohort_id = :scope)
