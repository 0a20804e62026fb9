"""Operational commands, apart from the pipeline (each runs as ``python -m onboarding.ops.<name>``):
``airflow_setup`` (airflow_settings.yaml into an Airflow), ``statedb`` (migrate the state
database), ``deploy`` (the production stack's databases and secrets), ``gmail_auth`` (authorise
an OAuth user), ``replay`` (re-decide a past run and compare) and ``demo``."""
