-- The names a person goes by in the data an erasure removes (matched exactly on the address):
-- the erasure's reason is stored with them taken out.
SELECT name FROM signups WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT first_name FROM signups WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT name FROM completions WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT name FROM customer_status WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT first_name FROM customer_status WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT recipient_name FROM email_ledger WHERE recipient = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT name FROM csm_roster WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
