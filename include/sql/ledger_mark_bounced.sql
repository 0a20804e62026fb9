-- An email that went out came back: the provider's delivery-status notification said it could
-- not be delivered (hard: the address does not exist; soft: for now). A hard bounce stays hard.
UPDATE email_ledger
SET status = 'bounced', bounce = CASE WHEN status = 'bounced' AND bounce = 'hard' THEN 'hard' ELSE :bounce END,
    last_error = :error, updated_at = :now
WHERE email_key = :email_key AND status IN ('sent', 'unconfirmed', 'bounced')
