-- v_customer_journey: v_customer_facts (0007) with its times also as hours since 1970, for
-- durations. This is the one migration that differs between SQLite and PostgreSQL
-- (.sqlite.sql / .postgresql.sql), and only in how an ISO 8601 text becomes a number.
CREATE VIEW v_customer_journey AS
SELECT f.*,
       (CAST(EXTRACT(EPOCH FROM CAST(f.signed_up_at AS TIMESTAMPTZ)) AS DOUBLE PRECISION) / 3600.0) AS signed_up_h,
       (CAST(EXTRACT(EPOCH FROM CAST(f.completed_at AS TIMESTAMPTZ)) AS DOUBLE PRECISION) / 3600.0) AS completed_h,
       (CAST(EXTRACT(EPOCH FROM CAST(f.reminded_at AS TIMESTAMPTZ)) AS DOUBLE PRECISION) / 3600.0) AS reminded_h,
       (CAST(EXTRACT(EPOCH FROM CAST(f.as_of AS TIMESTAMPTZ)) AS DOUBLE PRECISION) / 3600.0) AS as_of_h
FROM v_customer_facts f;
