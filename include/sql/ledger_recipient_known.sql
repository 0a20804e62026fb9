-- Whether an address was ever emailed from the ledger (an unsubscribe mail without a reference is
-- honoured only from someone we wrote to).
SELECT COUNT(*) FROM email_ledger WHERE recipient = :address AND status IN ('sent', 'unconfirmed', 'bounced')
