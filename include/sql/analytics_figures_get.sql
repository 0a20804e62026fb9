-- The figures the page last computed for a cohort, and the state they describe.
SELECT mark, figures FROM page_figures WHERE cohort_id = :cohort_id
