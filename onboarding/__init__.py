"""Cohort onboarding: pull signups and completions, validate, reconcile, decide, email, report.

Plain Python, importable and testable without a running Airflow; the DAGs in ``dags/`` only wire
these functions into tasks.
"""
