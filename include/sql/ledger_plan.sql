-- Record that an email is due. An email already in the ledger (the same identity: its columns,
-- whatever its key) keeps its row: whatever happened to that email before (sent, claimed,
-- refused) stands, its reference included. A resend asked for by hand is an identity of its own
-- (so it is sent at most once too) and carries her reason.
INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, stage, visit, resend_run_id,
                          retry, per_run_id, status, decided_run_id, attempts, created_at, updated_at,
                          requested_reason)
VALUES (:email_key, :ref, :cohort_id, :recipient, :recipient_name, :kind, :stage, :visit, :resend_run_id,
        :retry, :per_run_id, 'pending', :run_id, 0, :now, :now, :reason)
ON CONFLICT DO NOTHING
