-- An erased person's suppression: the salted hash of the address, never the address.
INSERT INTO suppressions (address, cohort_id, reason, source, added_by, note, created_at)
VALUES (:address, :cohort_id, 'erased', 'erasure', :added_by, :note, :now)
ON CONFLICT (address, cohort_id) DO UPDATE SET reason = 'erased', source = 'erasure'
