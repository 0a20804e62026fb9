"""What the people around a production run rely on: settings loaded into Airflow, the state
database migrated by command, shared secrets, the data team's run record, failure alerts."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers import csv_cohort, local, make_cohort
from onboarding import pipeline
from onboarding.delivery.senders import outbox_factory
from onboarding.ops import airflow_setup as airflow_settings
from onboarding.ops import deploy
from onboarding.reporting import alerts
from onboarding.run import RunContext
from onboarding.store import Store
from onboarding.store import db as state

ROOT = Path(__file__).resolve().parents[1]


# --- airflow_settings.yaml -----------------------------------------------------------------------
def test_connection_uris_variables_and_pools_come_from_the_file_and_environment():
    env = {"ONBOARDING_ROOT": "/srv/onb", "ONBOARDING_STATE_URI": "postgres://onb:p%40ss@db.internal:6432/onboarding",
           "ONBOARDING_ALERT_TO": "oncall@school.edu", "ONBOARDING_SEND_SLOTS": "3", "GMAIL_UNITS_PER_MINUTE": "15000"}
    conns = airflow_settings.connections(env=env)
    assert conns["onboarding_state"] == {"conn_type": "postgres", "host": "db.internal", "port": 6432, "login": "onb",
                                         "password": "p@ss", "schema": "onboarding"}
    assert conns["onboarding_email"]["extra"]["units_per_minute"] == "15000"
    assert "daily_cap" not in conns["onboarding_email"]["extra"]  # unset: the code's default holds
    assert airflow_settings.variables(env=env) == {"onboarding_alert_to": "oncall@school.edu"}
    assert [(p["pool_name"], p["pool_slot"]) for p in airflow_settings.pools(env=env)] == [("gmail_sends", "3")]
    # Without the URI the state database is the SQLite file in the checkout.
    assert airflow_settings.connections(env={"ONBOARDING_ROOT": "/srv/onb"})["onboarding_state"] == {
        "conn_type": "sqlite", "host": "/srv/onb/var/data/state.db"}
    assert airflow_settings.from_uri("sqlite:////var/lib/onb/state.db") == {"conn_type": "sqlite",
                                                                             "host": "/var/lib/onb/state.db"}


def _apply(env: dict[str, str]) -> dict[str, list[str]]:
    """`python -m onboarding.ops.airflow_setup apply` into the tests' Airflow, as a setup script runs it."""
    proc = subprocess.run([sys.executable, "-m", "onboarding.ops.airflow_setup", "apply"], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        what, names = line.removeprefix("airflow_settings.yaml: ").split(" ", 1)
        out[what] = names.split(", ")
    return out


def test_apply_loads_settings_into_airflow_idempotently(airflow_db):
    env = {"ONBOARDING_ALERT_TO": "oncall@school.edu", "GMAIL_CLIENT_SECRET": "s3cret-1", "ONBOARDING_SEND_SLOTS": "2"}
    _apply(env)  # whatever an earlier test left, from here on the database holds this
    again = _apply(env)
    assert set(again) == {"unchanged"}
    assert sorted(again["unchanged"]) == ["connection:onboarding_email", "connection:onboarding_google",
                                          "connection:onboarding_state", "pool:gmail_sends",
                                          "variable:onboarding_alert_to"]
    changed = _apply({**env, "GMAIL_CLIENT_SECRET": "s3cret-2", "ONBOARDING_SEND_SLOTS": "4"})
    assert sorted(changed["updated"]) == ["connection:onboarding_email", "connection:onboarding_google",
                                          "pool:gmail_sends"]
    probe = """
import json
from airflow.models import Connection, Variable
from airflow.models.pool import Pool
from airflow.utils.session import create_session
import sqlalchemy as sa
with create_session() as s:
    c = s.scalar(sa.select(Connection).where(Connection.conn_id == "onboarding_email"))
    v = s.scalar(sa.select(Variable).where(Variable.key == "onboarding_alert_to"))
    p = s.scalar(sa.select(Pool).where(Pool.pool == "gmail_sends"))
    print(json.dumps([json.loads(c.extra)["client_secret"], v.val, p.slots]))
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["s3cret-2", "oncall@school.edu", 4]


# --- state database migrations by command -------------------------------------------------------
def test_state_migrations_by_command(engine):
    url = engine.url.render_as_string(hide_password=False)
    # The fixture migrated it already: status says so, and migrate is a no-op.
    assert state.pending(engine) == []
    status = subprocess.run([sys.executable, "-m", "onboarding.ops.statedb", "status", "--url", url],
                            capture_output=True, text=True, cwd=ROOT)
    assert status.returncode == 0 and "up to date" in status.stdout
    with engine.connect() as conn:
        applied = conn.execute(sa.text("SELECT name FROM schema_migrations ORDER BY version")).scalars().all()
        assert sa.inspect(conn).has_table("run_reports")
    assert applied == [p.name for _, p in state.migrations(engine.dialect.name)]


def test_a_new_state_database_is_created_by_the_migrate_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'state.db'}"
    status = subprocess.run([sys.executable, "-m", "onboarding.ops.statedb", "status", "--url", url],
                            capture_output=True, text=True, cwd=ROOT)
    assert status.returncode == 1 and "pending ['0001_initial.sql'" in status.stdout
    done = subprocess.run([sys.executable, "-m", "onboarding.ops.statedb", "migrate", "--url", url],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "applied ['0001_initial.sql'" in done.stdout
    assert state.pending(state.make_engine(url)) == []


# --- shared secrets of the stack ----------------------------------------------------------------
def test_stack_secrets_come_from_the_environment_or_one_private_file(tmp_path):
    path = tmp_path / "stack" / "secrets.env"
    first = deploy.secrets_exports(path, env={"AIRFLOW__CORE__FERNET_KEY": "from-env"})
    assert "export AIRFLOW__CORE__FERNET_KEY=from-env" in first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "FERNET" not in path.read_text()  # the environment's secret is not copied to disk
    again = deploy.secrets_exports(path, env={"AIRFLOW__CORE__FERNET_KEY": "from-env"})
    assert again == first  # every process of the machine gets the same JWT and api secrets
    jwt = [line for line in first.splitlines() if "JWT_SECRET" in line][0]
    assert len(jwt.split("=", 1)[1]) >= 64
    generated = deploy.secrets_exports(tmp_path / "other.env", env={})
    from cryptography.fernet import Fernet

    key = [line for line in generated.splitlines() if "FERNET" in line][0].split("=", 1)[1]
    Fernet(key.encode())  # a usable key


# --- the data team's record of a run ------------------------------------------------------------
@pytest.fixture
def cohort(tmp_path):
    (tmp_path / "signups.csv").write_text("Email,Name,When\nann@x.org,Ann,2026-11-01T10:00\n"
                                          "bob@x.org,Bob,2026-11-01T11:00\nbad-address,Carl,2026-11-01T12:00\n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nann@x.org,2026-11-20T01:00:00Z\n")
    return csv_cohort(tmp_path)


def test_each_run_leaves_a_readable_summary_a_record_and_data_docs(engine, cohort, tmp_path, caplog):
    ctx = RunContext("night-1", local(2026, 12, 2), False, tmp_path / "data")
    store = Store(engine)
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    caplog.set_level("INFO", logger="onboarding.pipeline")
    pipeline.extract(store, cohort, ctx)
    pipeline.validate(store, cohort, ctx)
    pipeline.decide(store, cohort, ctx)
    pipeline.send(store, cohort, ctx, outbox)
    pipeline.report(store, cohort, ctx, outbox)

    docs = ctx.folder("c1") / "validation" / "data_docs" / "index.html"
    assert docs.exists() and "signups-rows" in docs.read_text()
    pages = list((docs.parent / "validations").rglob("*.html"))
    assert len(pages) >= 4 and any("night-1" in str(p) for p in pages)  # named by the Airflow run
    # The site stands alone (a copy of the run folder keeps it whole): real files, no symlink out;
    # with the fetched assets they are hard links, so a nightly site costs no space.
    static = docs.parent / "static"
    assert static.is_dir() and not static.is_symlink()
    from onboarding.validation import docs_assets

    if not docs_assets.missing():
        css = static / "vendor" / "bootstrap" / "dist" / "css" / "bootstrap.min.css"
        assert css.stat().st_ino == (docs_assets.vendor_dir() / "bootstrap" / "dist" / "css" / "bootstrap.min.css").stat().st_ino
    assert f"GX validation results (Data Docs) for this run: {docs}" in caplog.text

    block = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("RUN SUMMARY"))
    assert block.splitlines()[0] == "RUN SUMMARY cohort c1, run night-1, as of 2026-12-02 06:00 AEDT: done"
    assert "  customers: on_time 1, pending 1" in block
    assert "  reminder: decided due 1; emails sent 1" in block
    assert "  quarantined rows 1, orphan completions 0" in block
    assert "  guards tripped: none" in block and "  email provider errors: 0" in block
    assert f"  GX Data Docs: {docs}" in block

    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM run_reports WHERE run_id = 'night-1'")).mappings().one()
    rec = json.loads(row["record"])
    assert (row["status"], row["customers"], row["emails_sent"], row["quarantined_rows"], row["gmail_errors"]) == (
        "done", 2, 1, 1, 0)
    assert rec["decisions"] == {"reminder": {"due": 1}} and rec["emails"] == {"reminder": {"sent": 1}}
    assert rec["summary_email"] == "sent" and rec["data_docs"] == str(docs)
    # A retry of the report rewrites the one row, it does not add another.
    pipeline.report(store, cohort, ctx, outbox)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM run_reports")).scalar_one() == 1


def test_the_record_counts_gmail_errors_and_tripped_guards(engine):
    from onboarding.reporting import record as reporting

    c = make_cohort()
    with engine.begin() as conn:
        for i, (event, detail) in enumerate([("released", "HTTP 429: User-rate limit exceeded"),
                                             ("released", "HTTP 503: unavailable"),
                                             ("released", "HTTP 429: User-rate limit exceeded"),
                                             ("failed", "HTTP 400: Invalid To header")]):
            key = f"c1|u{i}@x.org|reminder"
            Store(engine, conn).ledger.plan([{"email_key": key, "ref": f"onb-{i}", "cohort_id": "c1",
                                              "recipient": f"u{i}@x.org", "recipient_name": "",
                                              "kind": "reminder"}], "r1")
            conn.execute(state.sql("ledger_event"), {"email_key": key, "at": f"2026-12-01T00:00:0{i}Z", "event": event,
                                                     "run_id": "r1", "detail": detail})
    data = {"run": {"as_of": "2026-12-01T19:00:00.000000Z", "status": "held", "dry_run": 0,
                    "guards": json.dumps([{"guard": "mass_cancellation", "message": "would cancel 80%",
                                           "released": False}])},
            "outcomes": [], "totals": {"sent": 0, "would_send": 0}, "failure": "held by guard(s)",
            "counts": {"quarantined_rows": 0, "orphan_completions": 0}, "run_counts": {}}
    rec = reporting.run_record(Store(engine), c, "r1", data)
    assert rec["gmail_errors"]["total"] == 4
    assert rec["gmail_errors"]["by_kind"] == {"HTTP 429": 2, "HTTP 503": 1, "HTTP 400": 1}
    assert rec["gmail_errors"]["final"] == [{"kind": "reminder", "recipient": "u3@x.org", "event": "failed",
                                             "error": "HTTP 400: Invalid To header"}]
    text = reporting.describe_record(rec, c)
    assert "guards tripped: mass_cancellation (HELD): would cancel 80%" in text
    assert "email provider errors: 4 (HTTP 400 1, HTTP 429 2, HTTP 503 1)" in text
    # The block goes to Airflow's task log, out of an erasure's reach: what failed, not whom.
    assert "failed: reminder: HTTP 400: Invalid To header" in text and "u3@x.org" not in text


# --- failure alerts -----------------------------------------------------------------------------
class TaskInstance:
    """The fields of Airflow's RuntimeTaskInstance that a failure callback reads."""

    def __init__(self, task_id="cohort.send", map_index=0, try_number=4, plan=None):
        self.dag_id, self.run_id, self.task_id = "onboarding_nightly", "scheduled__2026-12-01T19:00:00+00:00", task_id
        self.map_index, self.try_number, self.max_tries = map_index, try_number, 4
        self.log_url = (f"http://airflow.school.edu/dags/onboarding_nightly/runs/{self.run_id}/tasks/{task_id}"
                        f"/mapped/{map_index}?try_number={try_number}")
        self._plan = plan or []

    def xcom_pull(self, task_ids):
        assert task_ids == "plan"
        return self._plan


def test_recipients_are_the_variable_then_the_cohorts_data_team_each_once():
    assert alerts.recipients("oncall@x.edu; Data@X.edu", ("data@x.edu", "lead@x.edu")) == [
        "oncall@x.edu", "data@x.edu", "lead@x.edu"]
    assert alerts.recipients(None, ()) == []


def test_a_failure_alerts_the_data_team_once_even_if_the_callback_runs_twice(airflow_env, fake_google, monkeypatch,
                                                                           tmp_path):
    from onboarding import airflow_tasks as airflow_glue
    from onboarding.resources import Resources

    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    Resources().store()
    ti = TaskInstance(plan=[{"cohort_id": "data-eng-2026-12"}, {"cohort_id": "ux-2026-12"}], map_index=1)
    context = {"ti": ti, "exception": RuntimeError("Gmail refused every send: HTTP 403 insufficientPermissions")}
    airflow_glue.alert_failure(context)
    airflow_glue.alert_failure(context)  # the same failure seen again (e.g. by the scheduler)
    sent = list(fake_google.sent.values())
    assert len(sent) == 1
    msg = sent[0]
    assert msg["subject"].strip() == ("[Airflow FAILED] onboarding_nightly.cohort.send[1] (ux-2026-12), "
                              "run scheduled__2026-12-01T19:00:00+00:00")
    assert "oncall@example.edu" in msg["to"]
    for text in ("DAG:      onboarding_nightly", "Task:     cohort.send[1] (cohort ux-2026-12)",
                 "Try:      4 of 4", "Error:    RuntimeError: Gmail refused every send: HTTP 403",
                 f"Log:      {ti.log_url}"):
        assert text in msg["text"]
    # The sample ux cohort's sender is the From; the alert is in the ledger, sent.
    assert "ux.lead" not in msg["to"]
    with Resources().store().engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT cohort_id, status FROM email_ledger WHERE kind = 'alert'")).all()
    assert rows == [("ux-2026-12", "sent")]
    # Cleared and failed again: a new try, a new failure, a new alert. The plan task has no cohort.
    airflow_glue.alert_failure({**context, "ti": TaskInstance(plan=ti._plan, map_index=1, try_number=5)})
    airflow_glue.alert_failure({"ti": TaskInstance(task_id="plan", map_index=-1, try_number=1),
                                "exception": ValueError("cohort file: unknown time zone")})
    subjects = [m["subject"].strip() for m in fake_google.sent.values()]
    assert len(subjects) == 3
    assert subjects[2] == "[Airflow FAILED] onboarding_nightly.plan, run scheduled__2026-12-01T19:00:00+00:00"
    assert "Nothing was decided or sent by this run." in list(fake_google.sent.values())[2]["text"]


def test_no_recipient_means_no_alert_and_a_warning(airflow_env, fake_google, monkeypatch, caplog):
    from onboarding import airflow_tasks as airflow_glue
    from onboarding.resources import Resources

    monkeypatch.delenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", raising=False)
    airflow_glue.alert_failure({"ti": TaskInstance(task_id="plan", map_index=-1), "exception": None})
    assert fake_google.sent == {}
    assert "FAILURE NOT ALERTED: plan failed" in caplog.text and "no recipient" in caplog.text
    assert "set the Airflow variable onboarding_alert_to" in caplog.text


# --- retention -------------------------------------------------------------------------------------
def test_run_folders_past_their_retention_are_deleted_and_the_rest_kept(engine, tmp_path):
    import dataclasses
    import datetime as dt

    from helpers import make_cohort
    from onboarding import pipeline
    from onboarding.run import RunContext
    from onboarding.store import Store

    store = Store(engine)
    short = dataclasses.replace(make_cohort(id="c1"), retention_days=30)
    other = make_cohort(id="c2")  # the default, 400 days
    now = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)
    folders = {}
    for cohort, run_id, days_ago in ((short, "old", 45), (short, "recent", 10), (other, "older", 45)):
        started = now - dt.timedelta(days=days_ago)
        store.runs.record(run_id, cohort.id, started, False, "done")
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE runs SET started_at = :t WHERE run_id = :r AND cohort_id = :c"),
                         {"t": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "r": run_id, "c": cohort.id})
        folder = RunContext(run_id, started, False, str(tmp_path / "runs")).folder(cohort.id)
        (folder / "inputs").mkdir(parents=True)
        snapshot = folder / "inputs" / "signups.csv"
        snapshot.write_text("Email\nann@x.org\n")
        snapshot.chmod(0o444)  # snapshots are read-only
        folders[run_id] = folder
    removed = pipeline.housekeep(store, [short, other], str(tmp_path / "runs"), now)
    assert removed == {"c1": 1, "c2": 0}
    assert not folders["old"].exists() and folders["recent"].exists() and folders["older"].exists()
    assert store.runs.get("old", "c1")["status"] == "done"  # the run's record stays in the database
    assert pipeline.housekeep(store, [short, other], str(tmp_path / "runs"), now) == {"c1": 0, "c2": 0}


def test_the_demos_nights_leave_each_task_its_log_where_airflows_ui_reads_it(tmp_path):
    """dag.test() runs the tasks in the demo's own process; the night's output is split at each
    task's start into the task log files Airflow's UI opens (its default file layout), a task
    started twice (a retry) into two tries."""
    from airflow.configuration import conf

    from onboarding.ops.demo import write_task_logs

    night = tmp_path / "2026-12-05.log"
    night.write_text(
        "DAG bundles loaded\n"
        "... [DAG TEST] starting task_id=plan map_index=-1 [airflow.sdk.definitions.dag]\n"
        "run manual__x decides as of Sat 05 Dec 2026\n"
        "... [DAG TEST] starting task_id=cohort.send map_index=1 [airflow.sdk.definitions.dag]\n"
        "cohort ux: 24 sent\n"
        "... [DAG TEST] starting task_id=cohort.send map_index=1 [airflow.sdk.definitions.dag]\n"
        "cohort ux: nothing left to send\n")
    written = write_task_logs(night, "onboarding_nightly", "manual__2026-12-05T06:00:00+11:00", tmp_path / "logs")
    run = tmp_path / "logs" / "dag_id=onboarding_nightly" / "run_id=manual__2026-12-05T06:00:00+11:00"
    assert written == [run / "task_id=plan" / "attempt=1.log",
                       run / "task_id=cohort.send" / "map_index=1" / "attempt=1.log",
                       run / "task_id=cohort.send" / "map_index=1" / "attempt=2.log"]
    assert written[0].read_text().splitlines()[1] == "run manual__x decides as of Sat 05 Dec 2026"
    assert "24 sent" in written[1].read_text() and "24 sent" not in written[2].read_text()
    assert "DAG bundles loaded" not in "".join(p.read_text() for p in written)  # not any task's
    # The layout is Airflow's own default, which the UI reads the files by.
    assert conf.get("logging", "log_filename_template").startswith(
        "dag_id={{ ti.dag_id }}/run_id={{ ti.run_id }}/task_id={{ ti.task_id }}/")
