-- One cohort's reminder effect (v_reminder_effect).
SELECT * FROM v_reminder_effect WHERE cohort_id = :cohort_id
