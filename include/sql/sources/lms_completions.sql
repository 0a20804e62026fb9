-- Onboarding completions for one cohort from the course platform's database (an example).
-- One row per completion event; the pipeline keeps the earliest per customer.
SELECT u.email AS email, c.completed_at AS completed_at
FROM onboarding_completions c
JOIN users u ON u.id = c.user_id
WHERE c.course_code = :cohort_id
ORDER BY c.completed_at
