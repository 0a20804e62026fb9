"""Never a wrong email: hostile exports, held runs, reruns of old nights, lost summaries and broken
configuration, each through the real DAG (``dag.test()``), as production runs them.

The DAG tests read only the DAG, the cohort file, the fake Google server and the state database's
tables (each failed on the pipeline before these fixes, for the reason its name gives)."""
from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import itertools
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import yaml

import hostile_exports
from helpers import minimal, world_clock

ROOT = Path(__file__).resolve().parents[1]
SYD = ZoneInfo("Australia/Sydney")
_RUNS = itertools.count()


def load_dag(retry_delay: int | None = None):
    from airflow.dag_processing.dagbag import DagBag

    if retry_delay is not None:
        os.environ["ONBOARDING_RETRY_DELAY_SECONDS"] = str(retry_delay)
    try:
        return DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    finally:
        os.environ.pop("ONBOARDING_RETRY_DELAY_SECONDS", None)


@pytest.fixture(scope="module")
def nightly_dag():
    return load_dag()


def run_night(dag, night: dt.date, asked: dt.datetime | None = None, now: dt.datetime | None = None, **conf):
    """The night's run, asked for when the scheduler would (``asked``: later, for a rerun), in a
    world whose clock reads ``now`` (default: when it was asked for)."""
    conf = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": None,
            "kinds": ["reminder", "cancellation", "welcome"], "resend_request": None, **conf}
    moment = dt.datetime.combine(night, dt.time(6), SYD)
    asked = (asked or moment) + dt.timedelta(seconds=next(_RUNS))  # each call a run of its own
    with world_clock((now or asked).isoformat()):
        dr = dag.test(logical_date=moment, run_after=asked, run_conf=conf)
    return str(getattr(dr.state, "value", dr.state)), dr.run_id


def state_db(env: Path):
    return sa.create_engine(f"sqlite:///{env / 'state.db'}")


def addressed(fake) -> list[tuple[str, str, dict]]:
    """(recipient address, subject, message) of everything in Sent."""
    out = []
    for m in fake.sent.values():
        msg = email.message_from_bytes(m["raw"], policy=email.policy.default)
        out.append(([a.addr_spec for a in msg["To"].addresses], m["subject"], m))
    return out


def customers_mailed(fake, domain: str, subject_start: str = "Reminder:") -> set[str]:
    return {to[0] for to, subject, _ in addressed(fake) if to[0].endswith(domain) and subject.startswith(subject_start)}


def task_states(dag, run_id: str) -> dict[tuple[str, int], str]:
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as s:
        dr = s.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id).one()
        return {(ti.task_id, ti.map_index): str(getattr(ti.state, "value", ti.state)) for ti in dr.get_task_instances(
            session=s)}


def use_cohorts(monkeypatch, path: Path) -> None:
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(path))


# --- the hostile corpus ---------------------------------------------------------------------------
@pytest.mark.dagrun
def test_hostile_exports_are_quarantined_or_fail_alone_and_nothing_unsafe_is_sent(
        airflow_db, airflow_env, fake_google, nightly_dag, monkeypatch, tmp_path):
    use_cohorts(monkeypatch, hostile_exports.write(tmp_path / "corpus"))
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    fake_google.script("drafts.send", "echo")  # the first send is refused with an error echoing secrets
    state, run_id = run_night(nightly_dag, dt.date(2026, 12, 2))
    assert state == "failed"  # the cohort with the broken configuration; the others ran

    # Nothing unsafe went out: every message has exactly one recipient, no Bcc, nothing to evil.example.
    sent = addressed(fake_google)
    assert sent and all(len(to) == 1 and m["bcc"] is None for to, _, m in sent)
    assert not any("evil.example" in a for to, _, _ in sent for a in to)
    eng = state_db(airflow_env)
    with eng.connect() as conn:
        q = conn.execute(sa.text("SELECT cohort_id, source, source_row, column_name, reason FROM quarantine "
                                 "WHERE run_id = :r"), {"r": run_id}).all()
        ledger = conn.execute(sa.text("SELECT cohort_id, recipient, kind, status, last_error FROM email_ledger")).all()
        runs = dict(conn.execute(sa.text("SELECT cohort_id, status FROM runs WHERE run_id = :r"), {"r": run_id}).all())
        held = conn.execute(sa.text("SELECT cohort_id, email FROM customer_status WHERE run_id = :r AND status = 'held'"),
                            {"r": run_id}).all()
    failed = [r for r in ledger if r.status == "failed"]
    for cid, case in hostile_exports.CASES.items():
        got = {(r.source, r.source_row, r.column_name): r.reason for r in q if r.cohort_id == cid}
        for key, reason in case.quarantined.items():
            assert key in got and got[key].startswith(reason), (cid, key, got.get(key))
        assert len(got) == len(case.quarantined), (cid, got)
        mailed = {r.recipient for r in ledger if r.cohort_id == cid and r.kind == "reminder"}
        assert mailed == case.reminders, cid
        assert {e for c, e in held if c == cid} == case.held, cid
        if case.fails_with:
            assert cid not in runs  # it never started: nothing decided, nothing sent
        else:
            assert runs[cid] == "done", (cid, runs[cid])
    states = task_states(nightly_dag, run_id)
    broken = list(hostile_exports.CASES).index("hostile-config")
    assert states[("cohort.extract", broken)] == "failed" and states[("cohort.report", broken)] == "failed"
    assert {s for (t, i), s in states.items() if i not in (broken, -1)} == {"success"}
    # The data team hears of the broken cohort, from a sender the alert names.
    alerts = [m for _, subject, m in sent if subject.startswith("[Airflow FAILED]")]
    assert alerts and all("reminder_day_before" in m["text"] for m in alerts)
    assert all("onboarding_alert_from is not set" in m["text"] for m in alerts)

    # The send refused with an error that echoed the secrets: failed, and no secret stored anywhere.
    assert len(failed) == 1 and "[REDACTED]" in failed[0].last_error
    _, secret, refresh = fake_google.client
    with eng.connect() as conn:
        for table in ("runs", "email_ledger", "ledger_events", "run_reports", "decisions"):
            dump = json.dumps([list(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).all()], default=str)
            assert secret not in dump and refresh not in dump, table
    folders = [p for p in (airflow_env / "data" / "runs").rglob("*") if p.is_file()]
    for f in folders:
        data = f.read_bytes()
        assert secret.encode() not in data and refresh.encode() not in data, f

    # Unsafe output: formulas in the instructor's CSV are neutralised; the script in an email cell
    # never reaches the Data Docs as markup.
    odd = next((airflow_env / "data" / "runs" / "hostile-odd").iterdir())
    with open(odd / "report" / "status.csv", encoding="utf-8-sig") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert "'" + hostile_exports.FORMULA in cells and hostile_exports.FORMULA not in cells
    docs = "".join(p.read_text(errors="replace") for p in (odd / "validation" / "data_docs").rglob("*.html"))
    assert "signups-rows" in docs and hostile_exports.SCRIPT not in docs and "<script>alert" not in docs
    summary = (odd / "summary.html").read_text()
    assert hostile_exports.SCRIPT not in summary and "&lt;script&gt;" in summary  # shown, escaped


@pytest.mark.dagrun
def test_a_dry_run_writes_its_previews_only_inside_its_folder(airflow_db, airflow_env, fake_google, monkeypatch,
                                                              tmp_path):
    use_cohorts(monkeypatch, hostile_exports.write(tmp_path / "corpus"))
    dag = load_dag()  # its cohort drop-down lists this file's cohorts
    state, _ = run_night(dag, dt.date(2026, 12, 2), cohort="hostile-odd", dry_run=True)
    assert state == "success"
    # Only the instructor's summary went out, marked as a dry run.
    assert [(m["to"], m["subject"].split(" ")[0]) for m in fake_google.sent.values()] == [
        ("boss@example.edu", "[DRY")]
    preview = next((airflow_env / "data" / "runs" / "hostile-odd").iterdir()) / "preview"
    names = sorted(p.name for p in preview.iterdir())
    assert all(p.is_file() for p in preview.iterdir()) and len(names) == 3
    assert any(n.startswith("reminder__a_b@c2.org-") for n in names)  # the slash cannot leave the folder


# --- guards through Airflow -------------------------------------------------------------------------
def learners(folder: Path, done: int, total: int = 30, cid: str = "guarded", domain: str = "g.org") -> Path:
    """A cohort of ``total`` learners, the first ``done`` complete by 30 Nov; shrink guard on."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "signups.csv").write_text("Email,Name\n" + "".join(f"l{i:02d}@{domain},Learner {i:02d}\n"
                                                                 for i in range(total)))
    (folder / "completions.csv").write_text("Email,Done\n" + "".join(f"l{i:02d}@{domain},2026-11-30T01:00:00Z\n"
                                                                     for i in range(done)))
    cfg = {"cohorts": [{"id": cid, "title": cid.title(), "deadline": "2026-12-04", "timezone": "Australia/Sydney",
                        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu",
                        "data_team": ["data@example.edu"],
                        "guards": {"max_source_age": None, "max_completion_shrink": 0.2, "max_cancel_share": None},
                        "sources": {"signups": {"type": "csv", "path": "signups.csv",
                                                "columns": {"email": "Email", "name": "Name"}},
                                    "completions": {"type": "csv", "path": "completions.csv",
                                                    "columns": {"email": "Email", "completed_at": "Done"}}}}]}
    (folder / "cohorts.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "cohorts.yaml"


@pytest.mark.dagrun
def test_a_held_run_fails_tells_everyone_and_never_becomes_the_baseline(airflow_db, airflow_env, fake_google,
                                                                        nightly_dag, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    use_cohorts(monkeypatch, learners(tmp_path / "g", done=22))
    assert run_night(nightly_dag, dt.date(2026, 12, 1))[0] == "success"  # 22 complete: the baseline
    learners(tmp_path / "g", done=15)  # a partial export: 7 completions missing
    for night in (dt.date(2026, 12, 2), dt.date(2026, 12, 5)):
        before = len(fake_google.sent)
        state, run_id = run_night(nightly_dag, night)
        new = list(fake_google.sent.values())[before:]
        assert state == "failed", night  # the DAG run shows it
        states = task_states(nightly_dag, run_id)
        assert states[("cohort.report", 0)] == "failed" and states[("cohort.send", 0)] == "success"
        assert not [m for m in new if m["subject"].startswith(("Reminder", "Your place", "Welcome"))], night
        (summary,) = [m for m in new if "onboarding run as of" in m["subject"]]
        assert summary["subject"].startswith("[HELD]") and "data@example.edu" in summary["cc"]
        assert "shrunk_completions: the completion export has 15 rows, 22 at the previous run" in summary["text"]
        assert "Release guards: shrunk_completions" in summary["text"]
        assert any(m["subject"].startswith("[Airflow FAILED]") and "cohort.report" in m["subject"] for m in new)
        with state_db(airflow_env).connect() as conn:
            rec = conn.execute(sa.text("SELECT status, guards_tripped FROM run_reports WHERE run_id = :r"),
                               {"r": run_id}).one()
        assert tuple(rec) == ("held", 1)
    # The fixed export goes through after the deadline: 8 cancellations, 22 welcomes, none to the
    # seven the partial export left out.
    learners(tmp_path / "g", done=22)
    before = len(fake_google.sent)
    assert run_night(nightly_dag, dt.date(2026, 12, 5), asked=dt.datetime(2026, 12, 5, 9, tzinfo=SYD))[0] == "success"
    new = [m for m in list(fake_google.sent.values())[before:]]
    cancelled = {m["to"] for m in new if m["subject"].startswith("Your place")}
    assert len(cancelled) == 8 and not any(f"l{i:02d}@g.org" in t for t in cancelled for i in range(22))
    assert len([m for m in new if m["subject"].startswith("Welcome")]) == 22


# --- reruns of old nights -----------------------------------------------------------------------------
@pytest.mark.dagrun
def test_a_rerun_of_an_earlier_night_sends_no_reminder_after_a_cancellation_or_welcome(
        airflow_db, airflow_env, fake_google, nightly_dag, monkeypatch, tmp_path):
    folder = tmp_path / "r"
    learners(folder, done=10)
    with open(folder / "completions.csv", "a") as fh:  # two complete late in the window, one after the deadline
        fh.write("l20@g.org,2026-12-03T01:00:00Z\nl21@g.org,2026-12-03T02:00:00Z\nl22@g.org,2026-12-05T01:00:00Z\n")
    use_cohorts(monkeypatch, folder / "cohorts.yaml")
    assert run_night(nightly_dag, dt.date(2026, 12, 5))[0] == "success"  # cancellations and welcomes
    assert len(customers_mailed(fake_google, "@g.org", "Your place")) == 18
    # An old night cleared and rerun (a backfill): it keeps its own moment and run_after.
    before = len(fake_google.sent)
    assert run_night(nightly_dag, dt.date(2026, 12, 2))[0] == "success"
    assert not [m for m in list(fake_google.sent.values())[before:] if m["subject"].startswith("Reminder")]
    # Nor does one asked for after the deadline in real time, even for customers never mailed.
    use_cohorts(monkeypatch, learners(tmp_path / "s", done=0, total=5, cid="late-asked", domain="s.org"))
    before = len(fake_google.sent)
    assert run_night(nightly_dag, dt.date(2026, 12, 2), now=dt.datetime(2026, 12, 6, 9, tzinfo=SYD))[0] == "success"
    assert not [m for m in list(fake_google.sent.values())[before:] if m["subject"].startswith("Reminder")]


# --- the instructor's summary is never lost silently ---------------------------------------------------
@pytest.mark.dagrun
def test_a_summary_that_did_not_go_out_fails_the_report_and_the_next_one_says_so(
        airflow_db, airflow_env, fake_google, monkeypatch, tmp_path):
    dag = load_dag(retry_delay=1)
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    learners(tmp_path / "q", done=0, total=3)
    cfg = yaml.safe_load((tmp_path / "q" / "cohorts.yaml").read_text())
    cfg["cohorts"][0]["deadline"] = "2026-12-30"  # nothing due for customers: only the summary goes out
    (tmp_path / "q" / "cohorts.yaml").write_text(yaml.safe_dump(cfg))
    use_cohorts(monkeypatch, tmp_path / "q" / "cohorts.yaml")
    # Refused on both tries of the report task (4 attempts each).
    fake_google.script("drafts.send", *["503"] * 8)
    state, first = run_night(dag, dt.date(2026, 12, 2))
    assert state == "failed"
    states = task_states(dag, first)
    assert states[("cohort.report", 0)] == "failed"
    assert not [m for m in fake_google.sent.values() if "onboarding run as of" in m["subject"]]
    alerts = [m for m in fake_google.sent.values() if m["subject"].startswith("[Airflow FAILED]")]
    assert len(alerts) == 1 and "summary was not sent" in alerts[0]["text"]
    # The next night's summary goes out, and says the earlier one never did.
    state, _ = run_night(dag, dt.date(2026, 12, 3))
    assert state == "success"
    (summary,) = [m for m in fake_google.sent.values() if "onboarding run as of" in m["subject"]]
    assert "EARLIER SUMMARIES THAT DID NOT REACH YOU" in summary["text"] and first in summary["text"]


@pytest.mark.dagrun
def test_a_summary_refused_once_goes_out_on_the_report_tasks_retry(airflow_db, airflow_env, fake_google,
                                                                   monkeypatch, tmp_path):
    dag = load_dag(retry_delay=1)
    learners(tmp_path / "q", done=0, total=3)
    cfg = yaml.safe_load((tmp_path / "q" / "cohorts.yaml").read_text())
    cfg["cohorts"][0]["deadline"] = "2026-12-30"
    (tmp_path / "q" / "cohorts.yaml").write_text(yaml.safe_dump(cfg))
    use_cohorts(monkeypatch, tmp_path / "q" / "cohorts.yaml")
    fake_google.script("drafts.send", *["503"] * 4)
    state, run_id = run_night(dag, dt.date(2026, 12, 2))
    assert state == "success"
    assert len([m for m in fake_google.sent.values() if "onboarding run as of" in m["subject"]]) == 1
    with state_db(airflow_env).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM email_ledger WHERE kind = 'summary'")).scalar() == "sent"


# --- configuration ---------------------------------------------------------------------------------
def load(tmp_path, doc) -> str:
    """What loading the cohort file says, as the nightly run reads it: its error, or 'ok'."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    probe = ("import sys\nfrom onboarding.cohorts import load_cohorts\n"
             "try:\n    load_cohorts(sys.argv[1]); print('ok')\nexcept Exception as e:\n"
             "    print(type(e).__name__ + ': ' + str(e))")
    proc = subprocess.run([sys.executable, "-c", probe, str(cfg)], capture_output=True, text=True, timeout=20)
    return proc.stdout.strip() + proc.stderr[-500:]


@pytest.mark.parametrize("over,message", [
    ({"reminder_days_before": 1000000}, "cohort 'c1'.reminder_days_before: expected a whole number of days from 0"),
    ({"reminder_days_before": True}, "cohort 'c1'.reminder_days_before"),
    ({"grace_period": "9999999999d"}, "cohort 'c1'.grace_period"),
    ({"grace_period": "400d"}, "cohort 'c1'.grace_period: '400d' is longer than 366 days"),
    ({"reminder_day_before": 3}, "cohort 'c1': unknown key(s) ['reminder_day_before']"),
    ({"sender": "a@example.edu, b@example.edu"}, "cohort 'c1'.sender"),
    ({"instructor": "Boss <b@example.edu>, other@example.edu"}, "cohort 'c1'.instructor"),
    ({"instructor": "=?utf-8?q?x=40evil.example?= <b@example.edu>"}, "cohort 'c1'.instructor"),
    ({"id": "c1\n"}, "cohorts[0].id"),
    ({"retention_days": 0}, "cohort 'c1'.retention_days: expected a whole number of days from 1 to 3650"),
    ({"consent_wording": "v1\nBcc: x@evil.example"}, "cohort 'c1'.consent_wording: expected one line"),
    ({"sources": {"signups": {"type": "csv", "path": "/etc/passwd", "columns": {"email": "E", "name": "N"}},
                  "completions": {"type": "csv", "path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups.path: /etc/passwd is outside the cohort file's folder"),
])
def test_configuration_that_would_fail_later_is_refused_at_load(tmp_path, over, message):
    out = load(tmp_path, {"cohorts": [minimal(**over)]})
    assert out.startswith("ConfigError") and message in out and str(tmp_path / "c.yaml") in out, out


def test_a_source_outside_the_cohort_files_folder_needs_a_source_root(tmp_path):
    outside = {"signups": {"type": "csv", "path": "../exports/s.csv", "columns": {"email": "E", "name": "N"}},
               "completions": {"type": "csv", "path": "../exports/c.csv", "columns": {"email": "E", "completed_at": "T"}}}
    (tmp_path / "cfg").mkdir()
    assert "is outside the cohort file's folder" in load(tmp_path / "cfg", {"cohorts": [minimal(sources=outside)]})
    assert load(tmp_path / "cfg", {"source_roots": ["../exports"], "cohorts": [minimal(sources=outside)]}) == "ok"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    out = load(tmp_path, bomb + "cohorts: []\n")
    assert out.startswith("ConfigError") and "aliases" in out, out
    from onboarding.cohorts import cohort_choices

    os.environ["ONBOARDING_COHORTS_FILE"] = str(tmp_path / "c.yaml")
    try:
        assert cohort_choices() == {}  # the DAG file's parse does not hang on it either
    finally:
        del os.environ["ONBOARDING_COHORTS_FILE"]


def test_a_secrets_file_left_with_a_wider_mode_is_made_private(tmp_path):
    from onboarding.ops import deploy

    path = tmp_path / "secrets.env"
    deploy.secrets_exports(path, env={})
    path.chmod(0o644)
    deploy.secrets_exports(path, env={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
