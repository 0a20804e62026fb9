-- Erasure (README, "Privacy and deliverability"): one audit record per request, holding only a
-- salted hash of the address (never the address), the scope ('*' or a cohort), who asked, why,
-- and how much was erased. The salt is this database's own, made on the first erasure.
CREATE TABLE erasures (
    erasure_id    TEXT PRIMARY KEY,
    address_hash  TEXT NOT NULL,
    scope         TEXT NOT NULL,
    requested_by  TEXT,
    reason        TEXT,
    counts        TEXT,
    erased_at     TEXT NOT NULL
);

CREATE TABLE privacy_salt (
    id    INTEGER PRIMARY KEY,
    salt  TEXT NOT NULL
);
