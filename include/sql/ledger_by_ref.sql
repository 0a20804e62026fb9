-- The ledger entry an email's reference names (a bounce or an unsubscribe mail carries it).
SELECT email_key, ref, cohort_id, recipient, kind, status, bounce, retry
FROM email_ledger
WHERE ref = :ref
