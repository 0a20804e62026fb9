-- Where the ledger stands on each email of a cohort: what the rules read before deciding (each
-- email's identity in its columns).
SELECT email_key, recipient, kind, stage, visit, resend_run_id, retry, per_run_id, status, bounce
FROM email_ledger
WHERE cohort_id = :cohort_id
