-- Record that an email is due. An email already in the ledger (the same identity: its columns,
-- whatever its key) keeps its row: whatever happened to that email before (sent, claimed,
-- refused) stands, its reference included. A resend asked for by hand is an identity of its own
-- (so it is sent at most once too) and carries her reason, and the language the same email was
-- last entered in (a resend reads as the email it repeats).
INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, stage, visit, resend_run_id,
                          retry, per_run_id, status, decided_run_id, attempts, created_at, updated_at,
                          requested_reason, language)
VALUES (:email_key, :ref, :cohort_id, :recipient, :recipient_name, :kind, :stage, :visit, :resend_run_id,
        :retry, :per_run_id, 'pending', :run_id, 0, :now, :now, :reason,
        (SELECT o.language FROM email_ledger o
         WHERE o.cohort_id = :cohort_id AND o.recipient = :recipient AND o.kind = :kind AND o.language IS NOT NULL
         ORDER BY o.created_at DESC, o.email_key LIMIT 1))
ON CONFLICT DO NOTHING
