-- Where the ledger stands on each email of a cohort: what the rules read before deciding.
SELECT email_key, recipient, kind, status, bounce
FROM email_ledger
WHERE cohort_id = :cohort_id
