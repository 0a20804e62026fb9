-- The whole suppression list.
SELECT address, cohort_id, reason, source, added_by, note, created_at
FROM suppressions
ORDER BY address, cohort_id
