-- An email that went out came back: the provider's delivery-status notification said it could
-- not be delivered (hard: the address does not exist; soft: for now).
UPDATE email_ledger
SET status = 'bounced', bounce = :bounce, last_error = :error, updated_at = :now
WHERE email_key = :email_key AND status IN ('sent', 'unconfirmed', 'bounced')
