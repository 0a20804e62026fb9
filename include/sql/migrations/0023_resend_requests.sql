-- A resend asked for on the Onboarding page (README, "Privacy and deliverability"): the address
-- stays here, in the state database (an erasure deletes the row); the trigger form names the
-- request by its reference only, so Airflow's database never holds the address.
CREATE TABLE resend_requests (
    reference     TEXT PRIMARY KEY,
    cohort_id     TEXT NOT NULL,
    email         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    requested_by  TEXT,
    requested_at  TEXT NOT NULL
);
