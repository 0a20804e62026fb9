-- This deployment's secret for the references emails carry.
SELECT secret FROM reference_secret WHERE id = 1
