-- Emails an account sent (or may have sent) since a moment: what counts against its daily cap.
SELECT COUNT(*) AS n
FROM email_ledger
WHERE backend = :account AND status IN ('sent', 'unconfirmed', 'bounced')
  AND COALESCE(sent_at, updated_at) >= :since
