-- The page's audit of one stop or restart of a person's emails (action 'stopped' or 'restarted').
INSERT INTO suppression_changes (address, cohort_id, action, reason, changed_by, note, changed_at)
VALUES (:address, :cohort_id, :action, :reason, :changed_by, :note, :now)
