-- Every erasure done, newest first (hashes only).
SELECT erasure_id, address_hash, scope, requested_by, reason, counts, erased_at FROM erasures ORDER BY erased_at DESC
