-- Say why an email still due was not attempted this run (daily cap reached, throttled).
UPDATE email_ledger
SET last_error = :note, updated_at = :now
WHERE email_key = :email_key AND status = 'pending'
