SELECT email_key, ref, cohort_id, recipient, recipient_name, kind, status, decided_run_id, sent_run_id,
       owner, lease_until, backend, draft_id, provider_message_id, attempts, last_error, sent_at
FROM email_ledger
WHERE email_key = :email_key
