-- A dry run's list of what would have gone out: every email it decided would be sent, with the
-- customer and why (the instructor asked "what would this run send?").
SELECT d.kind, d.email, c.name, d.reason
FROM decisions d
JOIN customer_status c ON c.run_id = d.run_id AND c.cohort_id = d.cohort_id AND c.email = d.email
WHERE d.run_id = :run_id AND d.cohort_id = :cohort_id AND d.outcome = 'would_send'
ORDER BY CASE d.kind WHEN 'reminder' THEN 0 WHEN 'cancellation' THEN 1 ELSE 2 END, c.name, d.email
