"""Where the pipeline keeps its files. Each path can be overridden by an environment variable so a
deployment can put configuration and run data wherever it likes; defaults sit inside the project."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_ROOT / "include" / "sql"
TEMPLATES_DIR = PROJECT_ROOT / "include" / "templates"


def cohorts_file() -> Path:
    return Path(os.environ.get("ONBOARDING_COHORTS_FILE", PROJECT_ROOT / "config" / "cohorts.yaml"))


def data_dir() -> Path:
    """Run snapshots, validation results and reports live under here (one folder per run)."""
    return Path(os.environ.get("ONBOARDING_DATA_DIR", PROJECT_ROOT / "var" / "data"))


STATE_CONN_ID = os.environ.get("ONBOARDING_STATE_CONN_ID", "onboarding_state")
