-- What a run's mailbox read did not act on, grouped by why (the summary counts them; no address
-- is kept for an ignored message).
SELECT detail, COUNT(*) AS n
FROM mailbox_messages
WHERE run_id = :run_id AND kind = 'ignored'
GROUP BY detail
ORDER BY COUNT(*) DESC, detail
