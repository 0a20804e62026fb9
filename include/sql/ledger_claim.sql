-- Take an email for sending, atomically: from pending, or from claimed/drafted whose lease ran out
-- (a worker died mid-send). One caller wins; the others see 0 rows changed.
UPDATE email_ledger
SET status = CASE WHEN status = 'pending' THEN 'claimed' ELSE status END,
    owner = :owner,
    lease_until = :lease_until,
    backend = :backend,
    attempts = attempts + 1,
    updated_at = :now
WHERE email_key = :email_key
  AND (status = 'pending'
       OR (status IN ('claimed', 'drafted') AND (lease_until IS NULL OR lease_until < :now)))
