-- The audit record of one erasure: a salted hash of the address only.
INSERT INTO erasures (erasure_id, address_hash, scope, requested_by, reason, counts, erased_at)
VALUES (:erasure_id, :address_hash, :scope, :requested_by, :reason, :counts, :now)
