-- Every ledger row of a cohort: what has been sent, claimed, refused or superseded.
SELECT email_key, ref, recipient, recipient_name, kind, status, decided_run_id, sent_run_id, owner,
       lease_until, backend, draft_id, provider_message_id, attempts, last_error, created_at,
       updated_at, sent_at
FROM email_ledger
WHERE cohort_id = :cohort_id
ORDER BY recipient, kind
