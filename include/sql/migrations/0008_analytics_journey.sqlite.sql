-- v_customer_journey: v_customer_facts (0007) with its times also as hours since 1970, for
-- durations. This is the one migration that differs between SQLite and PostgreSQL
-- (.sqlite.sql / .postgresql.sql), and only in how an ISO 8601 text becomes a number.
CREATE VIEW v_customer_journey AS
SELECT f.*,
       ((julianday(f.signed_up_at) - 2440587.5) * 24.0) AS signed_up_h,
       ((julianday(f.completed_at) - 2440587.5) * 24.0) AS completed_h,
       ((julianday(f.reminded_at) - 2440587.5) * 24.0) AS reminded_h,
       ((julianday(f.as_of) - 2440587.5) * 24.0) AS as_of_h
FROM v_customer_facts f;
