-- Record that an email is due. A key already in the ledger keeps its row: whatever happened to
-- that email before (sent, claimed, refused) stands. A resend asked for by hand has a key of its
-- own (so it is sent at most once too) and carries her reason.
INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, status,
                          decided_run_id, attempts, created_at, updated_at, requested_reason)
VALUES (:email_key, :ref, :cohort_id, :recipient, :recipient_name, :kind, 'pending',
        :run_id, 0, :now, :now, :reason)
ON CONFLICT (email_key) DO NOTHING
