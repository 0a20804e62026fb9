-- Journeys run nightly (README, "Journeys"): each run's validated rows of the long events export
-- (email, event, at, value, link), and who looks after whom: a customer's CSM, assigned once on
-- entering the CSM stage and kept (sticky), whatever happens to the roster later.
CREATE TABLE journey_events (
    run_id      TEXT NOT NULL,
    cohort_id   TEXT NOT NULL,
    source_row  INTEGER NOT NULL,
    email       TEXT NOT NULL,
    event       TEXT NOT NULL,
    at          TEXT NOT NULL,
    value       REAL,
    link        TEXT,
    PRIMARY KEY (run_id, cohort_id, source_row)
);

CREATE INDEX journey_events_email ON journey_events (run_id, cohort_id, email);

CREATE TABLE csm_assignments (
    cohort_id    TEXT NOT NULL,
    email        TEXT NOT NULL,
    csm_email    TEXT NOT NULL,
    csm_name     TEXT NOT NULL,
    assigned_at  TEXT NOT NULL,   -- the run's moment when the customer was placed
    run_id       TEXT NOT NULL,   -- the run that placed them
    PRIMARY KEY (cohort_id, email)
);

-- Where the approver sees the evidence of a visit (the event row's link).
ALTER TABLE journey_visits ADD COLUMN link TEXT;

-- The approval requests a run made: one per cohort, stage (and CSM, when the CSM approves) and
-- night, each answered (or not) in Airflow's Required Actions; options and people are JSON lists
-- in the same order (option i names people[i]).
CREATE TABLE approval_requests (
    run_id      TEXT NOT NULL,
    cohort_id   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    approver    TEXT NOT NULL,   -- instructor, or the CSM's email
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    options     TEXT NOT NULL,
    people      TEXT NOT NULL,
    answered_at TEXT,
    answered_by TEXT,
    PRIMARY KEY (run_id, cohort_id, stage, approver)
);

-- Who waits on a person after each run (the CSMs' digests and the instructor's summary): a
-- customer waiting for an approval, for a CSM with room, overdue at a stage (escalated), or with
-- a query open; and on whom (instructor, or the CSM's address).
CREATE TABLE journey_waiting (
    run_id     TEXT NOT NULL,
    cohort_id  TEXT NOT NULL,
    email      TEXT NOT NULL,
    item       TEXT NOT NULL,   -- the stage, or the query's link
    standing   TEXT NOT NULL,   -- awaiting_approval, waiting_for_csm, overdue, stuck, open_query
    waits_on   TEXT NOT NULL,   -- instructor | csm
    csm_email  TEXT,
    since      TEXT,            -- since when (completed, entered, due, asked)
    escalated  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, cohort_id, email, item, standing)
);
