-- The names a person goes by in the data an erasure removes (matched exactly on the address): the
-- erasure's reason is stored with them taken out, and an approval request's text in Airflow's
-- database, where only the name is written, is found by them.
SELECT DISTINCT name FROM (
    SELECT name FROM signups WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT first_name FROM signups WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT name FROM completions WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT name FROM customer_status WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT first_name FROM customer_status WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT recipient_name FROM email_ledger WHERE recipient = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT name FROM csm_roster WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
    UNION SELECT csm_name FROM csm_assignments WHERE csm_email = :address AND (:scope = '*' OR cohort_id = :scope)
) AS known
WHERE name IS NOT NULL AND name <> ''
