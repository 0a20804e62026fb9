UPDATE email_ledger
SET status = 'sent', provider_message_id = :message_id, sent_run_id = :run_id, sent_at = :sent_at,
    lease_until = NULL, last_error = NULL, updated_at = :now
WHERE email_key = :email_key AND owner = :owner AND status IN ('claimed', 'drafted')
