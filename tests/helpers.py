"""Builders shared by the tests."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

from onboarding.cohorts import Cohort, GuardConfig, SourceConfig

NO_GUARDS = GuardConfig(max_source_age=None, max_completion_shrink=None, max_cancel_share=None)

SYD = "Australia/Sydney"


def make_cohort(**over) -> Cohort:
    base = dict(
        id="c1", title="Test Cohort", deadline=dt.date(2026, 12, 4), timezone=SYD,
        sender="Team <team@example.edu>", instructor="boss@example.edu",
        signups=SourceConfig("signups", "csv", {"email": "Email", "name": "Name", "signed_up_at": "When"},
                             {"path": "signups.csv"}),
        completions=SourceConfig("completions", "csv", {"email": "Email", "completed_at": "Done"},
                                 {"path": "completions.csv"}),
        guards=NO_GUARDS,
    )
    base.update(over)
    return Cohort(**base)


def csv_cohort(folder: Path, **over) -> Cohort:
    """A cohort reading ``signups.csv`` (Email, Name, When) and ``completions.csv`` (user_email,
    completed_at) in ``folder``, as the tests write them."""
    return make_cohort(
        signups=SourceConfig("signups", "csv", {"email": "Email", "name": "Name", "signed_up_at": "When"},
                             {"path": str(folder / "signups.csv")}),
        completions=SourceConfig("completions", "csv", {"email": "user_email", "completed_at": "completed_at"},
                                 {"path": str(folder / "completions.csv")}), **over)


def local(y, m, d, hh=6, mm=0, tz=SYD) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz))


# The tests' world: 27 Nov 2026, whatever the calendar says, so that rules reading real time (no
# reminder after its deadline) decide the same every year. conftest sets it for every test.
WORLD_NOW = "2026-11-27T09:00:00+11:00"


@contextlib.contextmanager
def world_clock(moment: str):
    """Run a block in a world whose clock reads ``moment`` (ISO 8601 with an offset)."""
    before = os.environ.get("ONBOARDING_SIMULATED_NOW")
    os.environ["ONBOARDING_SIMULATED_NOW"] = moment
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ONBOARDING_SIMULATED_NOW", None)
        else:
            os.environ["ONBOARDING_SIMULATED_NOW"] = before


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minimal(**over) -> dict:
    """The smallest valid cohort entry of a cohort file (``over`` replaces or adds keys)."""
    c = {"id": "c1", "title": "T", "deadline": "2026-12-04", "timezone": "Australia/Sydney",
         "sender": "a@example.edu", "instructor": "b@example.edu",
         "sources": {"signups": {"type": "csv", "path": "s.csv", "columns": {"email": "E", "name": "N"}},
                     "completions": {"type": "csv", "path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}}
    c.update(over)
    return c


def events_cohort(cohort_id: str, title: str, journey: str, sender: str, signups: str = "signups.csv",
                  events: str = "events.csv") -> str:
    """One cohort entry of a cohort file (YAML text, a list item) for a journey read from a signups
    export and an events export with the tests' usual columns, no guards, closing on 31 Dec."""
    return f"""
  - id: {cohort_id}
    title: {title}
    journey: {journey}
    deadline: 2026-12-31
    timezone: Europe/London
    sender: "{sender}"
    instructor: lead@example.com
    guards: {{max_source_age: null, max_completion_shrink: null}}
    sources:
      signups: {{type: csv, path: {signups}, columns: {{email: Email, name: Name, signed_up_at: Created}}}}
      events: {{type: csv, path: {events}, columns: {{email: Email, event: Event, at: At}}}}
"""


def replaced(doc, path, value):
    """``doc`` (a parsed YAML document) with the value at ``path`` (keys and list indexes) replaced;
    None deletes it."""
    import copy

    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def learner_cohort_file(folder: Path, n: int, deadline: dt.date, **cohort) -> Path:
    """A cohort file in ``folder`` for ``n`` signed-up learners (learner0000@x.org, ...), none
    complete: its exports are written beside it. ``cohort`` keys override or add to the cohort."""
    import csv

    import yaml

    signups, completions = folder / "signups.csv", folder / "completions.csv"
    with open(signups, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Email", "Name"])
        for i in range(n):
            w.writerow([f"learner{i:04d}@x.org", f"Learner {i:04d}"])
    completions.write_text("Email,Done\n")
    cfg = {"cohorts": [{
        "id": "big", "title": "Big Cohort", "deadline": deadline.isoformat(), "timezone": SYD,
        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu",
        "guards": {"max_source_age": None},  # the export is written by the test, long before the run's date
        "sources": {"signups": {"type": "csv", "path": str(signups), "columns": {"email": "Email", "name": "Name"}},
                    "completions": {"type": "csv", "path": str(completions),
                                    "columns": {"email": "Email", "completed_at": "Done"}}},
        **cohort}]}
    path = folder / "cohorts.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_stages(engine, cohort: Cohort, tmp_path: Path, as_of: dt.datetime, run_id: str = "night-1",
               sheets=None, dry_run: bool = False):
    """One cohort's night through every stage without Airflow (emails to an outbox folder):
    the run's context and the report's result."""
    from onboarding import pipeline
    from onboarding.delivery.senders import outbox_factory
    from onboarding.run import RunContext
    from onboarding.store import Store

    ctx = RunContext(run_id, as_of, dry_run, tmp_path / "data")
    store = Store(engine)
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)
    pipeline.send(store, cohort, ctx, outbox)
    return ctx, pipeline.report(store, cohort, ctx, outbox, sheets)


class Api:
    """Airflow's REST API as one user (the instructor unless named), for tests against a running
    api-server: ``api(method, path, body)`` answers the JSON, or fails the test with the status."""

    def __init__(self, port: int, password: str, user: str = "instructor"):
        import json
        import urllib.request

        self.base = f"http://127.0.0.1:{port}"
        req = urllib.request.Request(self.base + "/auth/token", method="POST",
                                     data=json.dumps({"username": user, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        self.token = json.load(urllib.request.urlopen(req, timeout=30))["access_token"]

    def __call__(self, method: str, path: str, body: dict | None = None, missing_ok: bool = False):
        import json
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        try:
            return json.load(urllib.request.urlopen(req, timeout=30))
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:  # e.g. a run not made yet
                return {}
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:1000]!r}") from None


def stop_group(proc, log=None) -> None:
    """Stop a server started in a process group of its own (TERM, then KILL after 30 s), and close
    its log file."""
    import signal
    import subprocess

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    if log is not None:
        log.close()


def bench_pipeline():
    """scripts/bench_pipeline.py as a module: its generator of realistic exports at any size
    (``generate(n)``, cached under var/bench) and its stages run as Airflow's tasks run them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_pipeline", Path(__file__).resolve().parents[1] / "scripts" / "bench_pipeline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench
