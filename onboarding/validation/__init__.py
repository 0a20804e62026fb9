"""Validation: an export's values read as what they mean (``values``: email addresses, names,
timestamps) and checked with Great Expectations (``gx``), so that a broken export stops its cohort
and a bad row is quarantined with its file, row, column and reason."""
