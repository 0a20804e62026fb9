-- A cohort's latest decided run (v_latest_run) and the state its figures depend on: its customers,
-- and the cohort's ledger rows and latest change (a sent, bounced or erased email changes them).
SELECT lr.run_id, lr.as_of, lr.status, lr.started_at,
       (SELECT COUNT(*) FROM customer_status c WHERE c.run_id = lr.run_id AND c.cohort_id = lr.cohort_id) AS customers,
       (SELECT COUNT(*) FROM email_ledger l WHERE l.cohort_id = lr.cohort_id) AS ledger_rows,
       (SELECT MAX(l.updated_at) FROM email_ledger l WHERE l.cohort_id = lr.cohort_id) AS ledger_changed
FROM v_latest_run lr
WHERE lr.cohort_id = :cohort_id
