-- Every row a run could not use, for the instructor's spreadsheet.
SELECT source, file, source_row, column_name, reason, value, email
FROM quarantine
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY source, source_row, column_name
