-- Who stopped or restarted one person's emails, for a cohort and for every cohort ('*'), oldest first.
SELECT address, cohort_id, action, reason, changed_by, note, changed_at
FROM suppression_changes
WHERE address = :address AND cohort_id IN (:cohort_id, '*')
ORDER BY changed_at
