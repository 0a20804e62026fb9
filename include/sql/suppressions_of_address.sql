-- The entries that keep one address from a cohort's emails: its own (for the cohort or for every
-- cohort) and its domain's.
SELECT address, cohort_id, reason, source, added_by, note, created_at
FROM suppressions
WHERE address IN (:address, :domain) AND (:cohort_id = '*' OR cohort_id IN (:cohort_id, '*'))
ORDER BY address, cohort_id
