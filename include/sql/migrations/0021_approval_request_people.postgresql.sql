-- Who an approval request lists, one row each (issue 21, point 6): an erasure deletes exactly
-- that person's row and leaves the request and everyone else on it. Each row holds what the
-- request shows of the person: their option in the form and their line of the request's table
-- (the request's own body keeps only the text around the table). A request made before this
-- migration keeps its whole body (``line`` is NULL: an erasure rewrites that body without the
-- person's line). Backfilled from the JSON lists, which then go.
CREATE TABLE approval_request_people (
    run_id       TEXT NOT NULL,
    cohort_id    TEXT NOT NULL,
    stage        TEXT NOT NULL,
    approver     TEXT NOT NULL,
    email        TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,  -- where the request lists them (0: first)
    option_text  TEXT NOT NULL,     -- their option in the form ("Ann Lee <ann@x.org>")
    line         TEXT,              -- their row of the request's table
    PRIMARY KEY (run_id, cohort_id, stage, approver, email),
    FOREIGN KEY (run_id, cohort_id, stage, approver)
        REFERENCES approval_requests (run_id, cohort_id, stage, approver) ON DELETE CASCADE
);

CREATE INDEX approval_request_people_email ON approval_request_people (email, cohort_id);

INSERT INTO approval_request_people (run_id, cohort_id, stage, approver, email, ordinal, option_text, line)
SELECT q.run_id, q.cohort_id, q.stage, q.approver, p.email, (p.n - 1)::integer,
       COALESCE(q.options::jsonb ->> (p.n - 1)::integer, ''), NULL
FROM approval_requests q
CROSS JOIN LATERAL jsonb_array_elements_text(q.people::jsonb) WITH ORDINALITY AS p(email, n)
ON CONFLICT DO NOTHING;

ALTER TABLE approval_requests DROP COLUMN people;
ALTER TABLE approval_requests DROP COLUMN options;
