-- Who stopped or restarted a person's emails on the Onboarding page, and why (the page's audit
-- of its "Do not email her" and "Restart her emails"). It names the address, so an erasure
-- deletes its rows (erase_person.sql).
CREATE TABLE suppression_changes (
    address     TEXT NOT NULL,
    cohort_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    changed_by  TEXT,
    note        TEXT,
    changed_at  TEXT NOT NULL,
    PRIMARY KEY (address, cohort_id, changed_at, action)
);
