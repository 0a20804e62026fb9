-- Customers of a cohort whose address bounced hard (it does not exist) and who have had no email
-- delivered since: someone must ask them for another address.
SELECT COUNT(DISTINCT recipient) AS n
FROM email_ledger b
WHERE b.cohort_id = :cohort_id AND b.status = 'bounced' AND b.bounce = 'hard'
  AND NOT EXISTS (SELECT 1 FROM email_ledger s
                  WHERE s.cohort_id = b.cohort_id AND s.recipient = b.recipient AND s.status = 'sent'
                    AND s.sent_at > COALESCE(b.updated_at, ''))
