-- Journeys (README, "Journeys"): each customer's visits to each stage as a run saw them (a
-- rerun of the run replaces its rows), and every approval or rejection with its author.
CREATE TABLE journey_visits (
    run_id        TEXT NOT NULL,
    cohort_id     TEXT NOT NULL,
    email         TEXT NOT NULL,
    stage         TEXT NOT NULL,
    visit         INTEGER NOT NULL,
    entered_at    TEXT,
    due_at        TEXT,
    completed_at  TEXT,
    score         REAL,
    outcome       TEXT NOT NULL,
    decided_at    TEXT,
    decided_by    TEXT,
    PRIMARY KEY (run_id, cohort_id, email, stage, visit)
);

CREATE TABLE approvals (
    cohort_id    TEXT NOT NULL,
    email        TEXT NOT NULL,
    stage        TEXT NOT NULL,
    decision     TEXT NOT NULL,   -- approved | rejected
    decided_at   TEXT NOT NULL,
    decided_by   TEXT NOT NULL,
    reason       TEXT,
    request      TEXT,            -- the Airflow task (run, task, map index) that asked
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (cohort_id, email, stage, decided_at)
);
