-- Give an email back after a failed attempt: its state (claimed or drafted) stays, so the next
-- attempt first asks the provider whether it went out; the lease ends now so it may retry at once.
UPDATE email_ledger
SET lease_until = :now, last_error = :error, updated_at = :now
WHERE email_key = :email_key AND owner = :owner AND status IN ('claimed', 'drafted')
