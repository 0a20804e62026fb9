-- The CSM roster a run read from its cohort's 'csms' export, in the export's order (round robin
-- and ties follow it).
SELECT email, name, capacity, attributes
FROM csm_roster
WHERE run_id = :run_id AND cohort_id = :cohort_id
ORDER BY source_row
