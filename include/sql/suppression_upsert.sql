-- Add an address (or '@domain') to the suppression list, or update why it is there. An
-- unsubscribe (which stops marketing only) never replaces an entry that stops every email, and a
-- manual "do not email" never replaces a bounce or a complaint (restarting her emails lifts a
-- manual entry only: it must not lift the bounce with it).
INSERT INTO suppressions (address, cohort_id, reason, source, added_by, note, created_at)
VALUES (:address, :cohort_id, :reason, :source, :added_by, :note, :now)
ON CONFLICT (address, cohort_id) DO UPDATE SET
    reason = excluded.reason, source = excluded.source, added_by = excluded.added_by, note = excluded.note
WHERE suppressions.reason = 'unsubscribed'
   OR (excluded.reason <> 'unsubscribed' AND NOT (excluded.reason = 'manual' AND suppressions.reason <> 'manual'))
