-- Take an email for sending, atomically: from pending; from claimed/drafted whose lease ran out
-- (a worker died mid-send); or from claimed/drafted held by an earlier try of this same run (Airflow
-- retried the task, so that try has ended). One caller wins; the others see 0 rows changed.
UPDATE email_ledger
SET status = CASE WHEN status = 'pending' THEN 'claimed' ELSE status END,
    owner = :owner,
    claim_run_id = :run_id,
    lease_until = :lease_until,
    backend = :backend,
    attempts = attempts + 1,
    updated_at = :now
WHERE email_key = :email_key
  AND (status = 'pending'
       OR (status IN ('claimed', 'drafted')
           AND (lease_until IS NULL OR lease_until < :now
                OR (claim_run_id = :run_id AND owner <> :owner))))
