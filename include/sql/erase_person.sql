-- Erase one person (an address) from the state database, in one cohort (:scope) or in all
-- (:scope = '*'): every row that holds the address, matched exactly (= on the column, never a
-- pattern: '%' and '_' are legal in an address). An approval request loses only her row (her
-- option and her line of its table); the request and everyone else on it stay. Texts that
-- quote the address (a run's error, the data team's run record, an approval request made before
-- migration 0021) are found by erasure_texts.sql and erasure_listed_requests.sql and rewritten
-- by the caller. Run in order, in one transaction; each statement's row count is reported by table.
-- Staff (a CSM; README "Privacy and deliverability"): the customers placed with her lose that
-- placement (the next run places them with another CSM), the waiting rows naming her as the one
-- waited on forget her address, and her approval requests are kept for their customers under
-- :placeholder (names nobody, one per erasure), as are the answers she gave.
DELETE FROM ledger_events
WHERE email_key IN (SELECT email_key FROM email_ledger
                    WHERE recipient = :address AND (:scope = '*' OR cohort_id = :scope));
DELETE FROM mailbox_messages
WHERE address = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM email_ledger
WHERE recipient = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM decisions
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM customer_status
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM signups
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM completions
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM orphan_completions
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM quarantine
WHERE (LOWER(TRIM(COALESCE(email, ''))) = :address OR LOWER(TRIM(COALESCE(value, ''))) = :address)
  AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM suppressions
WHERE address = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM suppression_changes
WHERE address = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM journey_visits
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM approvals
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM journey_events
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM csm_roster
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM csm_assignments
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM approval_request_people
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM journey_waiting
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM resend_requests
WHERE email = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM csm_assignments
WHERE csm_email = :address AND (:scope = '*' OR cohort_id = :scope);
UPDATE journey_waiting SET csm_email = NULL
WHERE csm_email = :address AND (:scope = '*' OR cohort_id = :scope);
INSERT INTO approval_requests (run_id, cohort_id, stage, approver, subject, body, answered_at, answered_by)
SELECT run_id, cohort_id, stage, :placeholder, subject, body, answered_at, answered_by FROM approval_requests
WHERE approver = :address AND (:scope = '*' OR cohort_id = :scope);
UPDATE approval_request_people SET approver = :placeholder
WHERE approver = :address AND (:scope = '*' OR cohort_id = :scope);
DELETE FROM approval_requests
WHERE approver = :address AND (:scope = '*' OR cohort_id = :scope);
UPDATE approval_requests SET answered_by = :placeholder
WHERE LOWER(answered_by) = :address AND (:scope = '*' OR cohort_id = :scope);
UPDATE approvals SET decided_by = :placeholder
WHERE LOWER(decided_by) = :address AND (:scope = '*' OR cohort_id = :scope)
