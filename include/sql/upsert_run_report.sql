-- The data team's record of a cohort's run (see migrations/0005): one row, rewritten on retry.
INSERT INTO run_reports (run_id, cohort_id, as_of, dry_run, status, customers, emails_sent, emails_waiting,
                         emails_failed, quarantined_rows, guards_tripped, gmail_errors, data_docs, record,
                         created_at, updated_at)
VALUES (:run_id, :cohort_id, :as_of, :dry_run, :status, :customers, :emails_sent, :emails_waiting,
        :emails_failed, :quarantined_rows, :guards_tripped, :gmail_errors, :data_docs, :record, :now, :now)
ON CONFLICT (run_id, cohort_id) DO UPDATE SET
    as_of = excluded.as_of,
    dry_run = excluded.dry_run,
    status = excluded.status,
    customers = excluded.customers,
    emails_sent = excluded.emails_sent,
    emails_waiting = excluded.emails_waiting,
    emails_failed = excluded.emails_failed,
    quarantined_rows = excluded.quarantined_rows,
    guards_tripped = excluded.guards_tripped,
    gmail_errors = excluded.gmail_errors,
    data_docs = excluded.data_docs,
    record = excluded.record,
    updated_at = excluded.updated_at
