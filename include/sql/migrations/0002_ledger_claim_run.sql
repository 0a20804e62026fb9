-- Remember which run holds a claim, so a retry of the same task (Airflow starts a new try only
-- after the previous one ended) can take over its claims at once instead of waiting out the lease.
ALTER TABLE email_ledger ADD COLUMN claim_run_id TEXT;
