-- An email's identity in columns (README, "Delivery and the ledger"; onboarding/identity.py): the
-- journey stage, the stage's visit, a resend's run, a soft bounce's retry, and the run of an email
-- sent once per run (a digest, a summary, an alert), beside the cohort, recipient and kind the
-- ledger already had. Every query matches on these columns; the key only names the row, and an
-- existing row keeps its key. One identity is one row (the unique index), whatever its key.
-- And the deployment's secret for the references emails carry (HMAC, made on first use).
ALTER TABLE email_ledger ADD COLUMN stage TEXT NOT NULL DEFAULT '';
ALTER TABLE email_ledger ADD COLUMN visit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE email_ledger ADD COLUMN resend_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE email_ledger ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;
ALTER TABLE email_ledger ADD COLUMN per_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN stage TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN visit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE decisions ADD COLUMN resend_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;

-- The backfill: the only place an old key is read. Its start is known from the row's own columns
-- (cohort|recipient|kind), so what follows is read without ambiguity whatever the address holds:
-- '|visitN', '|resend|<run>', '|retry', a digest's or summary's '|<run>'. Any other key (an
-- alert's) names an email of its own: its key stands for its run. A journey kind is
-- '<stage>:<kind>' (ids of a-z, 0-9, '_', '-'): trimming those characters off its end leaves the
-- stage and its colon. (rtrim with a set of characters is the same on SQLite and PostgreSQL.)
UPDATE email_ledger SET stage = rtrim(rtrim(kind, 'abcdefghijklmnopqrstuvwxyz0123456789_-'), ':')
WHERE replace(kind, ':', '') <> kind;
UPDATE email_ledger SET retry = 1
WHERE email_key = cohort_id || '|' || recipient || '|' || kind || '|retry';
UPDATE email_ledger SET resend_run_id = substr(email_key, length(cohort_id || '|' || recipient || '|' || kind) + 9)
WHERE substr(email_key, 1, length(cohort_id || '|' || recipient || '|' || kind) + 8) = cohort_id || '|' || recipient || '|' || kind || '|resend|'
  AND length(email_key) > length(cohort_id || '|' || recipient || '|' || kind) + 8;
UPDATE email_ledger SET visit = CAST(substr(email_key, length(cohort_id || '|' || recipient || '|' || kind) + 7) AS INTEGER)
WHERE substr(email_key, 1, length(cohort_id || '|' || recipient || '|' || kind) + 6) = cohort_id || '|' || recipient || '|' || kind || '|visit'
  AND length(email_key) > length(cohort_id || '|' || recipient || '|' || kind) + 6
  AND rtrim(substr(email_key, length(cohort_id || '|' || recipient || '|' || kind) + 7), '0123456789') = '';
UPDATE email_ledger SET per_run_id = substr(email_key, length(cohort_id || '|' || recipient || '|' || kind) + 2)
WHERE kind IN ('digest', 'summary')
  AND substr(email_key, 1, length(cohort_id || '|' || recipient || '|' || kind) + 1) = cohort_id || '|' || recipient || '|' || kind || '|'
  AND length(email_key) > length(cohort_id || '|' || recipient || '|' || kind) + 1;
UPDATE email_ledger SET per_run_id = 'legacy:' || email_key
WHERE email_key <> cohort_id || '|' || recipient || '|' || kind
  AND retry = 0 AND resend_run_id = '' AND visit = 1 AND per_run_id = '';

-- A decision names its email by the same key the ledger's row has (an email never entered, a dry
-- run's, keeps the columns of an original).
UPDATE decisions SET (stage, visit, resend_run_id, retry) = (
    SELECT l.stage, l.visit, l.resend_run_id, l.retry FROM email_ledger l WHERE l.email_key = decisions.email_key)
WHERE EXISTS (SELECT 1 FROM email_ledger l WHERE l.email_key = decisions.email_key);
UPDATE decisions SET stage = rtrim(rtrim(kind, 'abcdefghijklmnopqrstuvwxyz0123456789_-'), ':')
WHERE replace(kind, ':', '') <> kind AND stage = '';

CREATE UNIQUE INDEX email_ledger_identity
    ON email_ledger (cohort_id, recipient, kind, stage, visit, resend_run_id, retry, per_run_id);

-- The secret that keys every email's reference (HMAC-SHA256): made on first use, kept here.
CREATE TABLE reference_secret (
    id      INTEGER PRIMARY KEY,
    secret  TEXT NOT NULL
);
