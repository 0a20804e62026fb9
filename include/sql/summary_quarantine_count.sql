-- How many export rows a run quarantined (a row with two problems counts once).
SELECT COUNT(*) AS n FROM (
    SELECT DISTINCT source, source_row FROM quarantine WHERE run_id = :run_id AND cohort_id = :cohort_id
) rows_quarantined
