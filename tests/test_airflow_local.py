"""Airflow as the instructor runs it locally: ``scripts/airflow-ui.sh`` (``airflow standalone``,
a real scheduler and LocalExecutor on SQLite) on a free port, the journey sample's cohort file,
driven through the REST API as the UI's buttons drive it (issue 23, points 1-3):

- the script derives the execution API's address from its port: tasks run (before, every task
  failed with "Connection refused" on 8080), and it prints a login that works;
- a run triggered on the paused Dag waits Queued until the Dag is unpaused (the instructor's guide's advice, docs/instructor.md);
- while a night's approval request waits unanswered, a dry run and a rerun of the nightly Dag
  complete (before, they sat Queued behind the run holding the request, for up to 20 hours).

About 2 minutes on a quiet machine (25 s of it starting Airflow), 6 on a busy one: four nightly runs
of the journey sample, one at a time.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import helpers
from helpers import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


class Api(helpers.Api):
    """Airflow's REST API as the instructor, with the runs this test asks for and waits on."""

    def trigger(self, **choices) -> str:
        """A run as the trigger form makes it: every param (defaults, then ``choices``), now."""
        conf = {n: p.get("value") for n, p in self("GET", "/api/v2/dags/onboarding_nightly/details")["params"].items()}
        conf.update(choices)
        run = self("POST", "/api/v2/dags/onboarding_nightly/dagRuns", {
            "conf": conf, "logical_date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        return run["dag_run_id"]

    def state(self, dag_id: str, run_id: str) -> str:
        return self("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}")["state"]

    def wait(self, dag_id: str, run_id: str, until: float, states=("success", "failed")) -> str:
        while (state := self.state(dag_id, run_id)) not in states:
            assert time.monotonic() < until, f"{dag_id} {run_id} still {state}"
            time.sleep(2)
        return state


@pytest.fixture(scope="module")
def local_airflow(tmp_path_factory):
    """``bash scripts/airflow-ui.sh`` with AIRFLOW__API__PORT set to a free port, everything it
    writes in a folder of its own; its output (the printed login) and its folders."""
    home = tmp_path_factory.mktemp("airflow-ui")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW_", "AIRFLOW__", "ONBOARDING_"))}
    env.update({
        "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": "ui-script-test-" + os.urandom(16).hex(),
        "ONBOARDING_DATA_DIR": str(home / "data"), "ONBOARDING_STATE_DB": str(home / "state.db"),
        "ONBOARDING_OUTBOX": str(home / "outbox"),
        "ONBOARDING_COHORTS_FILE": str(ROOT / "config" / "journey-cohorts.yaml"),
        # Short retries: a task failing on a wrong address fails the test in seconds, not minutes.
        "ONBOARDING_TASK_RETRIES": "0", "ONBOARDING_RETRY_DELAY_SECONDS": "5",
    })
    # As the demo leaves it: a password file holding only the demo's "admin", no user here.
    (home / "airflow").mkdir()
    (home / "airflow" / "simple_auth_manager_passwords.json.generated").write_text('{"admin": "demo-only"}\n')
    out = home / "airflow-ui.log"
    log = open(out, "w")
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "airflow-ui.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    try:
        while not (login := re.search(r"Airflow UI: (\S+)  login: (\w+) / (\S+)", out.read_text())):
            assert proc.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() - started < 300, "the script printed no login: " + out.read_text()[-3000:]
            time.sleep(1)
        yield {"port": port, "home": home, "log": out, "url": login[1], "user": login[2], "password": login[3],
               "start_seconds": time.monotonic() - started}
    finally:
        stop_group(proc, log)


def _awaiting(api: Api, run_id: str, until: float) -> list[dict]:
    """The approval requests of the nightly run ``run_id``, once they wait for an answer."""
    while True:
        try:
            details = api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote('approvals__' + run_id)}"
                                 "/hitlDetails")["hitl_details"]
        except AssertionError:  # the approvals run is not made yet
            details = []
        waiting = [d for d in details if d["task_instance"]["state"] == "awaiting_input"]
        if waiting:
            return waiting
        assert time.monotonic() < until, f"no approval request of {run_id} waits: {details}"
        time.sleep(2)


def test_the_script_on_another_port_runs_tasks_and_nobody_waits_on_an_approver(local_airflow):
    start = time.monotonic()
    # Point 3: the login printed is one that works (the instructor's), at the port asked for.
    assert local_airflow["url"] == f"http://localhost:{local_airflow['port']}"
    assert local_airflow["user"] == "instructor"
    api = Api(local_airflow["port"], local_airflow["password"], local_airflow["user"])
    while not api("GET", "/api/v2/dags?dag_id_pattern=onboarding_")["dags"]:
        assert time.monotonic() - start < 180, "the Dags never appeared"
        time.sleep(2)
    dag = api("GET", "/api/v2/dags/onboarding_nightly")
    assert dag["is_paused"] is True  # as a new install finds it

    # Point 2: a run triggered on the paused Dag ("Unpause on trigger" unticked) waits Queued ...
    night = api.trigger(as_of="2026-11-28")
    time.sleep(20)  # several scheduler loops
    assert api.state("onboarding_nightly", night) == "queued"
    # ... until the Dag is unpaused, as the instructor's guide says: then it runs.
    api("PATCH", "/api/v2/dags/onboarding_nightly", {"is_paused": False})
    assert api.wait("onboarding_nightly", night, time.monotonic() + 600) == "success"
    tis = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{quote(night)}/taskInstances")["task_instances"]
    # Point 3: every task ran, talking to the execution API at the script's port.
    assert {t["task_id"]: t["state"] for t in tis}["cohort.report"] == "success"
    assert {t["task_id"]: t["state"] for t in tis}["ask_approvals"] == "success"

    # Point 1: the night's request waits for its approver in a run of its own ...
    (request,) = _awaiting(api, night, time.monotonic() + 300)
    assert request["subject"].startswith("saas-2026-11: approve Tell us about your team (")
    # ... and meanwhile her dry run and her rerun of the nightly Dag run and complete.
    dry = api.trigger(as_of="2026-11-29", dry_run=True)
    rerun = api.trigger(as_of="2026-11-28")
    until = time.monotonic() + 900
    assert api.wait("onboarding_nightly", dry, until) == "success"
    assert api.wait("onboarding_nightly", rerun, until) == "success"
    assert api.state("onboarding_approvals", "approvals__" + night) == "running"
    still = api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote('approvals__' + night)}/hitlDetails")
    assert [d["task_instance"]["state"] for d in still["hitl_details"]] == ["awaiting_input"]
    # The rerun's own request waits beside it (many approvals runs may wait at once); a dry run asks nobody.
    assert _awaiting(api, rerun, time.monotonic() + 120)
    dry_tis = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{quote(dry)}/taskInstances")["task_instances"]
    assert {t["task_id"]: t["state"] for t in dry_tis}["ask_approvals"] == "skipped"

    # The answer is still taken whenever it comes, and closes the approvals run.
    ti = request["task_instance"]
    api("PATCH", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(ti['dag_run_id'])}/taskInstances/approve/"
                 f"{ti['map_index']}/hitlDetails", {"chosen_options": request["options"][:1],
                                                   "params_input": {"reject": None}})
    assert api.wait("onboarding_approvals", ti["dag_run_id"], time.monotonic() + 300) == "success"
    print(f"\nairflow-ui.sh up in {local_airflow['start_seconds']:.0f}s; test {time.monotonic() - start:.0f}s")
