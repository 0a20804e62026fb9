"""Where the pipeline keeps its files. Each location can be overridden by an environment variable
so a deployment can put the cohort file and run data wherever it likes; defaults sit inside the
project."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_ROOT / "include" / "sql"
TEMPLATES_DIR = PROJECT_ROOT / "include" / "templates"

# The Airflow connection of the project's state database.
STATE_CONN_ID = os.environ.get("ONBOARDING_STATE_CONN_ID", "onboarding_state")


def cohorts_file() -> Path:
    return Path(os.environ.get("ONBOARDING_COHORTS_FILE", PROJECT_ROOT / "config" / "cohorts.yaml"))


def data_dir() -> Path:
    """This machine's working folder: the default state database, outbox and run folders."""
    return Path(os.environ.get("ONBOARDING_DATA_DIR", PROJECT_ROOT / "var" / "data"))


def runs_base() -> str:
    """Where run folders live (snapshots, validation results, Data Docs, reports): a local path, or
    any URL Airflow's object storage knows (``s3://bucket/onboarding/runs``, ``file:///shared/runs``)
    so that workers on several machines share runs. Default: ``<data dir>/runs``."""
    return os.environ.get("ONBOARDING_RUNS_BASE") or str(data_dir() / "runs")


def runs_connection() -> str | None:
    """The Airflow connection for an object-storage ``runs_base`` (credentials for the bucket)."""
    return os.environ.get("ONBOARDING_RUNS_CONN_ID") or None
