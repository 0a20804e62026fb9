-- One page of the quarantined rows of one run: file, row, column, reason, the value and the email it names.
SELECT source, file, source_row, column_name, reason, value, email
FROM quarantine
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY source, source_row, column_name
LIMIT :list_limit OFFSET :list_offset
