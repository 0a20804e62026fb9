-- Journeys (README, "How CSMs are assigned"): a customer's attributes as the signup export gave
-- them (JSON, {"language": "de"}: the keys the journey's csm_match names), and each run's CSM
-- roster when a cohort reads it from an export (the 'csms' source) instead of the journey file.
ALTER TABLE signups ADD COLUMN attributes TEXT;

CREATE TABLE csm_roster (
    run_id      TEXT NOT NULL,
    cohort_id   TEXT NOT NULL,
    source_row  INTEGER NOT NULL,
    email       TEXT NOT NULL,
    name        TEXT NOT NULL,
    capacity    INTEGER NOT NULL,
    attributes  TEXT,
    PRIMARY KEY (run_id, cohort_id, source_row)
);
