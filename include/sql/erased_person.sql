-- Whether a person (the salted hash of their address) was erased from a cohort or from everything;
-- asked with :cohort_id '*', from everything only.
SELECT COUNT(*) FROM suppressions
WHERE address = :address_hash AND reason = 'erased' AND cohort_id IN (:cohort_id, '*')
