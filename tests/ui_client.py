"""Airflow's own api-server app, in this process, with the project's plugin mounted as Airflow
mounts it (``create_app``), and tokens from Airflow's auth manager: the Onboarding page tested
through the path a browser takes, without starting a server."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa


def state_connection(engine: sa.Engine) -> str:
    """``AIRFLOW_CONN_ONBOARDING_STATE`` for a state database engine (SQLite or PostgreSQL)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return json.dumps({"conn_type": "sqlite", "host": url.database})
    return json.dumps({"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
                       "password": url.password, "schema": url.database})


def client() -> Any:
    """A test client of Airflow's api-server app (the plugin reads the state database the
    ``onboarding_state`` connection names at each request)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


def token(username: str = "instructor", role: str | None = "viewer") -> str:
    """A JWT Airflow's auth manager signs for a user with this role (``None``: no role at all)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def record_data_docs(engine: sa.Engine, index: Any, run_id: str = "r1", cohort_id: str = "c1") -> None:
    """A run's report row naming its Data Docs site (``index``: the site's index.html)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO run_reports (run_id, cohort_id, as_of, dry_run, status, customers, emails_sent, "
            "emails_waiting, emails_failed, quarantined_rows, guards_tripped, gmail_errors, data_docs, record, "
            "created_at, updated_at) VALUES (:r, :c, '', 0, 'done', 7, 0, 0, 0, 0, 0, 0, :docs, '{}', '', '')"),
            {"r": run_id, "c": cohort_id, "docs": str(index)})
