"""What the browser tests share: Debian's Chromium (skipped where it is missing, except in CI, where
it fails), ``airflow standalone`` with this project's Dags and plugin on a free port, logging in as
the instructor, and Airflow's REST API with her token. Each test module keeps its own data; this
module only starts Airflow and drives the browser the same way for all of them."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
ARTIFACTS = ROOT / "var" / "test-artifacts"  # screenshots of the page tests
SHOTS = ROOT / "var" / "artefacts" / "screenshots"  # screenshots CI keeps
PHONE = {"width": 390, "height": 844}


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI must have it)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/install-chromium.sh)")


@contextlib.contextmanager
def airflow_standalone(home: Path, state: Path, cohorts_file: Path, timeout: float = 300):
    """``airflow standalone`` (LocalExecutor on SQLite) in ``home`` with this project's Dags and
    plugin, the state database ``state`` and the cohort file ``cohorts_file``; the user
    ``instructor`` may run the Dag (her page's requests need it). Yields its port, her password,
    ``home`` and how long it took to answer; stopped, with every process under it, on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update({
        "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "instructor:user",
        "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-" + os.urandom(16).hex(),
        "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(state)}),
        "ONBOARDING_COHORTS_FILE": str(cohorts_file), "ONBOARDING_DATA_DIR": str(home / "data"),
        "GX_ANALYTICS_ENABLED": "false", "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    })
    log = open(home / "standalone.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    passwords = home / "airflow" / "simple_auth_manager_passwords.json.generated"
    started = time.monotonic()
    try:
        while True:
            assert proc.poll() is None, (home / "standalone.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
                if passwords.exists():
                    break
            except OSError:
                pass
            assert time.monotonic() - started < timeout, "airflow standalone did not start"
            time.sleep(1)
        yield {"port": port, "password": json.loads(passwords.read_text())["instructor"], "home": home,
               "start_seconds": time.monotonic() - started}
    finally:
        stop_group(proc, log)


def log_in(page, base: str, password: str) -> None:
    """Log in to Airflow's UI as the instructor; back when its navigation shows Onboarding."""
    page.goto(f"{base}/")
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Onboarding").wait_for(timeout=60000)


def api(port: int, password: str, method: str, path: str, body=None) -> dict:
    """Airflow's REST API as the instructor (her token from ``/auth/token``); an HTTP error answers
    ``{"status": code, "detail": ...}``."""
    token = json.load(urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/token", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": "instructor", "password": password}).encode()), timeout=30))["access_token"]
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        return json.load(urllib.request.urlopen(req, timeout=30))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("detail")
        except ValueError:
            detail = None
        return {"status": exc.code, "detail": detail}


def wait_for_dag(port: int, password: str, dag_id: str = "onboarding_nightly") -> None:
    """Until Airflow's dag processor has stored the Dag (a run can be started)."""
    deadline = time.monotonic() + 180
    while api(port, password, "GET", f"/api/v2/dags/{dag_id}").get("dag_id") != dag_id:
        assert time.monotonic() < deadline, f"the dag processor did not parse {dag_id}"
        time.sleep(2)
