-- The rows a run could not use, for the instructor's summary: the first :list_limit in file order
-- (summary_quarantine_count.sql counts them all; report_quarantine.sql lists them all).
SELECT source, file, source_row, column_name, reason, value, email
FROM quarantine
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY source, source_row, column_name
LIMIT :list_limit
