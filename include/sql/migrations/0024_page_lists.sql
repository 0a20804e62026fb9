-- The Onboarding page's lists at 100,000 customers (issue: "the instructor's day", points 5 and 6):
-- a cohort's customers one page at a time in name order, filtered by standing, by CSM and by what
-- waits on a person, without reading the whole run; the quarantine and orphans lists paged; and
-- the cohort's figures (funnel, stages, reminders, comparison) computed once per state of its
-- latest run and ledger instead of on every request.
CREATE INDEX customer_status_name ON customer_status (run_id, cohort_id, name, email);
CREATE INDEX customer_status_standing ON customer_status (run_id, cohort_id, status);
CREATE INDEX csm_assignments_csm ON csm_assignments (cohort_id, csm_email);
CREATE INDEX journey_waiting_standing ON journey_waiting (run_id, cohort_id, standing, waits_on);
CREATE INDEX orphan_completions_order ON orphan_completions (run_id, cohort_id, completed_at, email);
-- What a cohort's figures depend on in the ledger: how many rows and when the last changed.
CREATE INDEX email_ledger_updated ON email_ledger (cohort_id, updated_at);

-- page_figures: one row per cohort, the figures the page last computed and the state they were
-- computed from (mark: the latest decided run, its customers, the ledger's rows and last change).
-- Derived data only: deleting a row costs one slow request, never a wrong figure.
CREATE TABLE page_figures (
    cohort_id  TEXT PRIMARY KEY,
    mark       TEXT NOT NULL,
    figures    TEXT NOT NULL,
    made_at    TEXT NOT NULL
);
