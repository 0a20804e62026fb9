-- Export rows naming one customer that a run quarantined: file, row, column and reason.
SELECT q.run_id, q.source, q.file, q.source_row, q.column_name, q.reason, q.value
FROM quarantine q
WHERE q.cohort_id = :cohort_id AND LOWER(q.email) = :email
ORDER BY q.run_id, q.source, q.source_row
