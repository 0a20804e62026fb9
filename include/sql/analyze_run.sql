-- PostgreSQL only: fresh planner statistics after a bulk load, so the set-based queries that
-- follow join with hashes, not nested loops over a million rows (a staging table loaded a moment
-- ago has none; autovacuum comes later). The runs and visits tables are small but the analytics
-- views join through them: with no statistics at all the planner guesses their rows.
ANALYZE signups;
ANALYZE completions;
ANALYZE quarantine;
ANALYZE customer_status;
ANALYZE decisions;
ANALYZE email_ledger;
ANALYZE runs;
ANALYZE journey_visits
