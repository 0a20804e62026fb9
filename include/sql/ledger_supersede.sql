-- An email decided earlier but never attempted, no longer due (its window passed, or the
-- customer's standing changed): it will not be sent.
UPDATE email_ledger
SET status = 'superseded', last_error = :reason, updated_at = :now
WHERE email_key = :email_key AND status = 'pending'
