-- The entries that apply to a cohort: its own and those for every cohort ('*').
SELECT address, cohort_id, reason, source, added_by, note, created_at
FROM suppressions
WHERE cohort_id IN (:cohort_id, '*')
ORDER BY address, cohort_id
