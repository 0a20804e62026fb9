"""Test setup: an Airflow home of the tests' own (set before anything imports Airflow), a
migrated state database per test, and the local fake Google server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["AIRFLOW_HOME"] = str(ROOT / "var" / "test-airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
# One signing secret for every Airflow process the tests start (the test process, its executor's
# workers, the api-server): otherwise each fresh process may generate its own and reject the others.
os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "onboarding-tests-" + os.urandom(32).hex())
sys.path.insert(0, str(Path(__file__).parent))

from fake_google import FakeGoogle  # noqa: E402


@pytest.fixture(autouse=True)
def world_now(monkeypatch):
    """Every test lives on 27 Nov 2026 unless it says otherwise (see helpers.world_clock)."""
    from helpers import WORLD_NOW

    monkeypatch.setenv("ONBOARDING_SIMULATED_NOW", WORLD_NOW)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database (SQLite), migrated once per session."""
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


PG_URL = os.environ.get("ONBOARDING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _postgres_database():
    """A fresh PostgreSQL database for one test, dropped afterwards. Skipped where no server
    answers, except in CI (CI=true), which has one: there a missing server fails the test."""
    import uuid

    import sqlalchemy as sa

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must have it)")
        pytest.skip(reason)
    name = f"onb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url():
    """The URL of a fresh PostgreSQL database for one test (not migrated), dropped afterwards."""
    yield from _postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """A migrated state database: every test using it runs on SQLite and on PostgreSQL."""
    from onboarding.store import db as state

    if request.param == "sqlite":
        eng = state.make_engine(f"sqlite:///{tmp_path / 'state.db'}")
        state.migrate(eng)
        yield eng
        eng.dispose()
        return
    gen = _postgres_database()
    url = next(gen)
    eng = state.make_engine(url)
    state.migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        next(gen, None)


@pytest.fixture
def fake_google():
    server = FakeGoogle(seed=1234).start()
    yield server
    server.stop()


@pytest.fixture
def airflow_env(tmp_path, monkeypatch, fake_google):
    """Connections and folders for a DAG run: state in tmp, email through the fake Gmail."""
    monkeypatch.setenv("ONBOARDING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE",
                       json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "state.db")}))
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_EMAIL",
                       json.dumps({"conn_type": "generic", "extra": fake_google.gmail_extra()}))
    return tmp_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def website_db(request, tmp_path, monkeypatch):
    """A stand-in for the website's own database, reachable as the Airflow connection
    ``website_db`` (through AIRFLOW_CONN_WEBSITE_DB, as Airflow reads it): on SQLite and on
    PostgreSQL. Yields a SQLAlchemy engine to fill it."""
    import sqlalchemy as sa

    if request.param == "sqlite":
        path = tmp_path / "website.db"
        monkeypatch.setenv("AIRFLOW_CONN_WEBSITE_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
        eng = sa.create_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    gen = _postgres_database()
    url = sa.engine.make_url(next(gen))
    monkeypatch.setenv("AIRFLOW_CONN_WEBSITE_DB", json.dumps({
        "conn_type": "postgres", "host": url.host, "port": url.port or 5432, "login": url.username,
        "password": url.password or "", "schema": url.database}))
    eng = sa.create_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()
        next(gen, None)
