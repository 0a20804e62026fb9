-- One machine-readable record per cohort per run, for the data team: what the run's summary
-- log says, as columns to query and the whole record as JSON. Rewritten by each report attempt.
CREATE TABLE run_reports (
    run_id            TEXT NOT NULL,
    cohort_id         TEXT NOT NULL,
    as_of             TEXT NOT NULL,
    dry_run           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    customers         INTEGER NOT NULL,
    emails_sent       INTEGER NOT NULL,
    emails_waiting    INTEGER NOT NULL,
    emails_failed     INTEGER NOT NULL,
    quarantined_rows  INTEGER NOT NULL,
    guards_tripped    INTEGER NOT NULL,
    gmail_errors      INTEGER NOT NULL,
    data_docs         TEXT,
    record            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (run_id, cohort_id)
);

CREATE INDEX run_reports_cohort ON run_reports (cohort_id, as_of);
