-- What the set-based stages need at a million customers a night (see README, "Scale").
-- Reconciliation and the orphan check join a run's signups, completions and quarantined rows on
-- the email; without these indexes each is a scan per customer.
CREATE INDEX signups_email ON signups (run_id, cohort_id, email);
CREATE INDEX completions_email ON completions (run_id, cohort_id, email);
CREATE INDEX quarantine_email ON quarantine (run_id, cohort_id, source, email);

-- The ledger plan is one INSERT ... SELECT from a run's due decisions: each decision carries the
-- email's reference (a hash of its key, computed by the decisions).
ALTER TABLE decisions ADD COLUMN ref TEXT;
