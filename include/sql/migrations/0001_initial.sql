-- Initial schema of the onboarding state database (SQLite and PostgreSQL alike).
-- Times are ISO 8601 UTC text ('2026-12-04T13:00:00.000000Z'): they sort and compare as text on
-- both backends, and read the same in any client.

-- One row per cohort per Airflow run: what it read, what it decided, how it ended.
CREATE TABLE runs (
    run_id       TEXT NOT NULL,
    cohort_id    TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    dry_run      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT,
    inputs       TEXT,
    counts       TEXT,
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, cohort_id)
);

-- The validated rows each run read (rows that failed validation are in quarantine instead).
CREATE TABLE signups (
    run_id        TEXT NOT NULL,
    cohort_id     TEXT NOT NULL,
    source_row    INTEGER NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    signed_up_at  TEXT,
    PRIMARY KEY (run_id, cohort_id, source_row)
);

CREATE TABLE completions (
    run_id        TEXT NOT NULL,
    cohort_id     TEXT NOT NULL,
    source_row    INTEGER NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT,
    completed_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, cohort_id, source_row)
);

CREATE TABLE quarantine (
    run_id       TEXT NOT NULL,
    cohort_id    TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_row   INTEGER NOT NULL,
    column_name  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    file         TEXT NOT NULL,
    value        TEXT,
    email        TEXT,
    PRIMARY KEY (run_id, cohort_id, source, source_row, column_name, reason)
);

-- Each customer's standing as of the run: on_time, completed_late, pending, missed or held.
CREATE TABLE customer_status (
    run_id        TEXT NOT NULL,
    cohort_id     TEXT NOT NULL,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    completed_at  TEXT,
    status        TEXT NOT NULL,
    PRIMARY KEY (run_id, cohort_id, email)
);

CREATE TABLE orphan_completions (
    run_id        TEXT NOT NULL,
    cohort_id     TEXT NOT NULL,
    email         TEXT NOT NULL,
    completed_at  TEXT NOT NULL,
    source_row    INTEGER NOT NULL,
    PRIMARY KEY (run_id, cohort_id, email)
);

-- What each run decided for each email it considered, and why.
-- outcome: due, already_sent, blocked, failed_earlier, would_send (dry run)
CREATE TABLE decisions (
    run_id     TEXT NOT NULL,
    cohort_id  TEXT NOT NULL,
    email      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    PRIMARY KEY (run_id, cohort_id, email, kind)
);

-- The ledger: one row per email that may ever be sent, keyed so each is sent at most once.
-- status: pending -> claimed -> drafted -> sent; or failed (refused for good), unconfirmed
-- (may have gone out, not provable: never resent automatically), superseded (no longer due).
CREATE TABLE email_ledger (
    email_key            TEXT PRIMARY KEY,
    ref                  TEXT NOT NULL UNIQUE,
    cohort_id            TEXT NOT NULL,
    recipient            TEXT NOT NULL,
    recipient_name       TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    status               TEXT NOT NULL,
    decided_run_id       TEXT NOT NULL,
    sent_run_id          TEXT,
    owner                TEXT,
    lease_until          TEXT,
    backend              TEXT,
    draft_id             TEXT,
    provider_message_id  TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    sent_at              TEXT
);

CREATE INDEX email_ledger_cohort ON email_ledger (cohort_id, status);

-- Every transition of every ledger row, for the audit trail.
CREATE TABLE ledger_events (
    email_key  TEXT NOT NULL,
    at         TEXT NOT NULL,
    event      TEXT NOT NULL,
    run_id     TEXT,
    detail     TEXT,
    PRIMARY KEY (email_key, at, event)
);
