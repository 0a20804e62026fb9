-- Stage shapes (issue 25): a stage done by several named evidences (all of them, or any one)
-- records, per visit, which of them the customer has done as of the run ("calendar, notes") and
-- how many the stage names (5), for "2 of 5" on the customer's page. NULL for a stage of one
-- evidence, and on every visit written before.
ALTER TABLE journey_visits ADD COLUMN evidence_done TEXT;
ALTER TABLE journey_visits ADD COLUMN evidence_of INTEGER;
