-- End an email that will not be retried automatically: failed (refused for good) or unconfirmed
-- (may have gone out, cannot be proven either way).
UPDATE email_ledger
SET status = :status, last_error = :error, lease_until = NULL, updated_at = :now
WHERE email_key = :email_key AND owner = :owner AND status IN ('claimed', 'drafted')
