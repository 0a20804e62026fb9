-- The suppression list (README, "Privacy and deliverability"): addresses, or whole domains
-- ('@example.org'), that must not be emailed, for one cohort or for all ('*'), with the reason
-- (manual, unsubscribed, hard_bounce, complaint, erased), where the entry came from and who added it.
CREATE TABLE suppressions (
    address     TEXT NOT NULL,
    cohort_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    added_by    TEXT,
    note        TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (address, cohort_id)
);
