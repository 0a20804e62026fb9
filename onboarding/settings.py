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


def cohort_choices() -> dict[str, str]:
    """Cohort id -> title, for the trigger form's drop-down (read when the DAG file is parsed, as
    Airflow's own params example reads its choices; only YAML, no connection). Empty if the file
    cannot be read: the run itself then reports the configuration error."""
    try:
        import yaml

        doc = yaml.safe_load(cohorts_file().read_text(encoding="utf-8")) or {}
        return {str(c["id"]): str(c.get("title") or c["id"]) for c in doc.get("cohorts") or [] if c.get("id")}
    except Exception:  # noqa: BLE001 - the form falls back to free text
        return {}
