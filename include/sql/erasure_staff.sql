-- Whether the address is one of the staff (a CSM: in a roster export, placed customers, asked
-- approvals), and the names she goes by there: her erasure keeps her customers' rows and takes
-- her out of them (README "Privacy and deliverability").
SELECT name FROM csm_roster WHERE email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT csm_name FROM csm_assignments WHERE csm_email = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT '' FROM approval_requests WHERE approver = :address AND (:scope = '*' OR cohort_id = :scope)
UNION SELECT '' FROM journey_waiting WHERE csm_email = :address AND (:scope = '*' OR cohort_id = :scope)
