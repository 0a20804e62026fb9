-- Every decision any run made about one customer: the email kind, the outcome and the reason.
SELECT d.run_id, d.kind, d.outcome, d.reason, d.ref
FROM decisions d
WHERE d.cohort_id = :cohort_id AND d.email = :email
ORDER BY d.run_id, d.kind
