"""Whole-DAG runs with dag.test(): the real DAG, real GX, a real SQLite state database and the real
Gmail client talking over HTTP to the local fake Google server, on the bundled sample data.

Who should receive what on which night is worked out here independently from the sample CSVs
(a plain re-statement of the rules), then compared with what reached the fake Gmail's Sent."""
from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import re
from urllib.parse import quote
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers import world_clock

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SYD = ZoneInfo("Australia/Sydney")
NIGHTS = [dt.date(2026, 11, 28) + dt.timedelta(days=i) for i in range(9)]  # D-6 .. D+2 of data-eng
pytestmark = pytest.mark.dagrun

COHORTS = {
    # id: (folder, tz, deadline, grace, welcome_timing, signup cols (email, name, when, fmt), completion cols)
    "data-eng-2026-12": ("data-eng-2026-12", "Australia/Sydney", dt.date(2026, 12, 4), dt.timedelta(0),
                         "after_deadline", ("Email", "Full Name", "Timestamp", "%m/%d/%Y %H:%M:%S"),
                         ("user_email", "completed_at")),
    "ux-2026-12": ("ux-2026-12", "America/New_York", dt.date(2026, 12, 3), dt.timedelta(hours=2),
                   "on_completion", ("E-mail Address", "Learner", "Submitted On", None), ("Email", "Finished")),
}
# A plain address: dot-separated atoms (no '..', no leading or trailing dot), a dotted domain.
EMAIL_OK = re.compile(r"^[a-z0-9'_+-]+(\.[a-z0-9'_+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def expected_emails(cohorts=tuple(COHORTS)) -> dict[dt.date, set[tuple[str, str]]]:
    """The oracle: (recipient, kind) per night, from the CSVs and the rules as docs/how-it-works.md states them."""
    out = {n: set() for n in NIGHTS}
    for cid in cohorts:
        folder, tzname, deadline, grace, timing, (se, sn, sw, sfmt), (ce, cw) = COHORTS[cid]
        tz = ZoneInfo(tzname)
        deadline_end = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(0), tz) + grace
        window = dt.datetime.combine(deadline - dt.timedelta(days=3), dt.time(0), tz)
        signups = {}
        with open(SAMPLE / folder / "signups.csv", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                email, name = r[se].strip().lower(), " ".join(r[sn].split())
                if not EMAIL_OK.match(email) or not name:
                    continue
                when = (dt.datetime.strptime(r[sw], sfmt) if sfmt else dt.datetime.fromisoformat(r[sw])).replace(tzinfo=tz)
                signups[email] = min(signups.get(email, when), when)
        done, held = {}, set()
        with open(SAMPLE / folder / "completions.csv", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                email = r[ce].strip().lower()
                try:
                    t = dt.datetime.fromisoformat(r[cw])
                except ValueError:
                    held.add(email)
                    continue
                t = t if t.tzinfo else t.replace(tzinfo=tz)
                done[email] = min(done.get(email, t), t)
        sent = set()
        for night in NIGHTS:
            as_of = dt.datetime.combine(night, dt.time(6), SYD)
            for email, signed in signups.items():
                if signed > as_of or email in held:
                    continue
                completed = done.get(email) if done.get(email) and done[email] <= as_of else None
                if completed is None and as_of < deadline_end:
                    kind = "reminder" if as_of >= window else None
                elif completed is None or completed >= deadline_end:
                    kind = "cancellation"
                elif as_of >= deadline_end or timing == "on_completion":
                    kind = "welcome"
                else:
                    kind = None
                if kind and (email, kind) not in sent:
                    sent.add((email, kind))
                    out[night].add((email, kind))
    return out


def airflow_glue_engine():
    from onboarding.resources import Resources

    return Resources().store().engine


def kind_of(subject: str) -> str:
    if subject.startswith("Reminder:"):
        return "reminder"
    if "has been cancelled" in subject:
        return "cancellation"
    if subject.startswith("Welcome to"):
        return "welcome"
    if "onboarding run as of" in subject:
        return "summary"
    raise AssertionError(f"unexpected subject {subject!r}")


def addr(to: str) -> str:
    from email.utils import getaddresses

    (pair,) = getaddresses([to])
    return pair[1]


@pytest.fixture(scope="module")
def nightly_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]


_RUNS = itertools.count()


def run_night(dag, night, asked_later=dt.timedelta(0), **conf):
    # Always the full conf: dag.test() keeps the previous run's params on a reused DAG object.
    conf = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": None,
            "kinds": ["reminder", "cancellation", "welcome"], "resend": False, "resend_request": None, **conf}
    # As the scheduler runs it: the night's run is asked for at its own time (run_after), not now;
    # a second apart per call, so that each call is a run of its own (its run id comes from it).
    moment = dt.datetime.combine(night, dt.time(6), SYD)
    asked = moment + asked_later + dt.timedelta(seconds=next(_RUNS))
    # The clock of the world the run lives in: the night it replays (reminders depend on real time).
    with world_clock(asked.isoformat()):
        dr = dag.test(logical_date=moment, run_after=asked, run_conf=conf)
    return str(getattr(dr.state, "value", dr.state)), dr.run_id


def test_sample_cohorts_over_the_deadline_nights(airflow_db, airflow_env, fake_google, nightly_dag):
    expected = expected_emails()
    seen: set[str] = set()
    got: dict[dt.date, set[tuple[str, str]]] = {}
    summaries: dict[dt.date, list[str]] = {}
    for night in NIGHTS:
        state, _ = run_night(nightly_dag, night)
        assert state == "success", night
        new = {mid: m for mid, m in fake_google.sent.items() if mid not in seen}
        seen |= set(new)
        got[night] = {(addr(m["to"]), kind_of(m["subject"])) for m in new.values() if kind_of(m["subject"]) != "summary"}
        summaries[night] = sorted(addr(m["to"]) for m in new.values() if kind_of(m["subject"]) == "summary")
    for night in NIGHTS:
        assert got[night] == expected[night], night
        # One summary per cohort per night, to its instructor.
        assert summaries[night] == ["instructor@example.edu", "ux.lead@example.edu"]

    # Spot checks of the messy cases, by name.
    everything = {e for night in NIGHTS for e in got[night]}
    d1 = dt.date(2026, 12, 5)
    assert ("night.owl@uni.edu.au", "cancellation") in got[d1]  # 00:30 Sydney on the 5th: late
    assert ("early.bird@uni.edu.au", "welcome") in got[d1]  # 23:30 Sydney on the 4th: on time
    assert not any(e.startswith("tom.unclear") for e, _ in everything)  # held: unreadable completion
    assert not any(e.startswith("walk.in.") for e, _ in everything)  # orphans are never emailed
    assert not any(e in ("jane.doe@", "nameless.learner@gmail.com") for e, _ in everything)
    assert len([1 for e, _ in everything if e == "mallory.example@gmail.com"]) == 2  # reminder, cancellation
    assert all(m["bcc"] is None for m in fake_google.sent.values())
    assert not fake_google.drafts  # every draft created was sent
    per_customer: dict[str, set[str]] = {}
    for e, k in everything:
        per_customer.setdefault(e, set()).add(k)
    assert not any({"welcome", "cancellation"} <= ks for ks in per_customer.values())
    assert sum(len(v) for v in got.values()) == len(everything)  # nobody got the same email twice

    # A second run of the last night sends nothing new to customers (only its own summary).
    before = len(fake_google.sent)
    state, run_id = run_night(nightly_dag, NIGHTS[-1], asked_later=dt.timedelta(hours=3))  # a new run, by hand
    assert state == "success"
    again = list(fake_google.sent.values())[before:]
    assert sorted(kind_of(m["subject"]) for m in again) == ["summary", "summary"]

    # The ledger agrees with the mailbox, message for message.
    with airflow_glue_engine().connect() as conn:
        ledger = conn.execute(sa.text("SELECT provider_message_id FROM email_ledger WHERE status = 'sent'")).scalars().all()
        decided = conn.execute(sa.text("SELECT outcome, COUNT(*) FROM decisions WHERE run_id = :r GROUP BY outcome"),
                               {"r": run_id}).all()
    assert sorted(ledger) == sorted(fake_google.sent)
    assert dict(decided) == {"already_sent": len(everything) - sum(
        1 for e, k in everything if k == "reminder")}

    # The Onboarding page (the analytics views, through Airflow's api-server and the plugin) agrees
    # with the oracle, cohort by cohort: on time = welcomed, late + missed = cancelled, reminded.
    import ui_client

    ui = ui_client.client()
    h = ui_client.bearer(ui_client.token())
    for cid in COHORTS:
        emails = {e for night in NIGHTS for e in expected_emails((cid,))[night]}
        kinds = {k: sum(1 for _, kk in emails if kk == k) for k in ("reminder", "cancellation", "welcome")}
        funnel = {r["key"]: r["n"] for r in ui.get(f"/onboarding/api/cohorts/{cid}", headers=h).json()["funnel_rows"]}
        assert funnel["on_time"] == kinds["welcome"], cid
        assert funnel["completed_late"] + funnel["missed"] == kinds["cancellation"], cid
        assert funnel["reminded"] == kinds["reminder"] and funnel["pending"] == 0, cid
        assert funnel["held"] == (1 if cid == "data-eng-2026-12" else 0), cid  # Tom Unclear
    page = ui.get("/onboarding/cohorts/data-eng-2026-12", params={"q": "night.owl"}, headers=h)
    assert page.status_code == 200 and 'data-email="night.owl@uni.edu.au"' in page.text
    owl = ui.get("/onboarding/api/cohorts/data-eng-2026-12/customers/night.owl@uni.edu.au", headers=h).json()
    (cancel,) = [e for e in owl["emails"] if e["kind"] == "cancellation"]
    assert cancel["state"] == "sent" and cancel["provider_message_id"] in fake_google.sent
    assert "deadline" in cancel["decided_reason"]
    assert owl["nights"][-1]["standing"] == "completed late"
    assert owl["nights"][-1]["rows"][0]["role"] == "signups" and len(owl["nights"][-1]["rows"][0]["sha256"]) == 64


def test_secrets_stay_out_of_logs_and_run_files(airflow_db, airflow_env, fake_google, nightly_dag, capfd):
    state, _ = run_night(nightly_dag, dt.date(2026, 12, 1), cohort="ux-2026-12")
    assert state == "success" and fake_google.sent
    out, err = capfd.readouterr()
    assert "Reminder" in out + err or "reminder" in out + err  # the task logs were captured
    for secret in ("test-secret", "test-refresh"):
        assert secret not in out + err
        for f in (airflow_env / "data").rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f


def test_dry_run_sends_nothing_and_says_what_would_go_out(airflow_db, airflow_env, fake_google, nightly_dag, capfd):
    state, run_id = run_night(nightly_dag, dt.date(2026, 12, 1), dry_run=True, cohort="data-eng-2026-12")
    assert state == "success"
    logs = capfd.readouterr()
    logs = logs.out + logs.err
    # The grid names each mapped cohort task by its cohort, not by 0, 1, 2.
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        labels = {(ti.task_id, ti.rendered_map_index) for ti in session.query(TaskInstance).filter(
            TaskInstance.run_id == run_id, TaskInstance.task_id.like("cohort.%"))}
    assert labels == {(f"cohort.{t}", "data-eng-2026-12") for t in ("extract", "validate", "decide", "send", "report")}
    # The data team's log: the project's lines carry their fields; GX's chatter is gone.
    assert "Skipping registering function" not in logs and "Created temporary directory" not in logs
    assert re.search(r"cohort data-eng-2026-12 as of Tue 01 Dec 2026 06:00 AEDT: .*cohort=data-eng-2026-12", logs)
    # No customer gets anything; the instructor gets her summary, marked as a dry run.
    (summary_mail,) = fake_google.sent.values()
    assert addr(summary_mail["to"]) == "instructor@example.edu" and summary_mail["subject"].startswith("[DRY RUN] ")
    assert not fake_google.drafts
    run_dir = next((airflow_env / "data" / "runs" / "data-eng-2026-12").iterdir())
    previews = list((run_dir / "preview").glob("reminder__*.eml"))
    expected = expected_emails(("data-eng-2026-12",))[dt.date(2026, 12, 1)]
    assert {p.name.removeprefix("reminder__").removesuffix(".eml") for p in previews} == {e for e, _ in expected}
    assert {k for _, k in expected} == {"reminder"}
    summary = (run_dir / "summary.txt").read_text()
    assert "DRY RUN: nothing was sent" in summary and f"Emails that would be sent: {len(previews)}" in summary
    assert not (airflow_env / "data" / "runs" / "ux-2026-12").exists()  # only the cohort asked for


def test_broken_export_fails_the_cohort_and_sends_it_nothing(airflow_db, airflow_env, fake_google, nightly_dag,
                                                            monkeypatch, tmp_path):
    import yaml

    conf = yaml.safe_load((ROOT / "config" / "cohorts.yaml").read_text())
    broken = tmp_path / "completions-broken.csv"
    broken.write_text("learner,when\nx@y.org,2026-11-20T00:00:00Z\n")
    for c in conf["cohorts"]:
        for src in c["sources"].values():
            src["path"] = str((ROOT / "config" / src["path"]).resolve())
    conf["cohorts"][0]["sources"]["completions"]["path"] = str(broken)
    conf["cohorts"][0]["data_team"] = ["data@example.edu"]
    conf["source_roots"] = [str(ROOT / "sample_data")]
    cfg = tmp_path / "cohorts.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cfg))

    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    state, run_id = run_night(nightly_dag, dt.date(2026, 12, 5))
    assert state == "failed"
    # The data team hears of each task that failed for good once: the GX check (which does not
    # retry: bad data stays bad) and the report that fails the cohort's run, each with its log link.
    alerts = [m for m in fake_google.sent.values() if m["subject"].startswith("[Airflow FAILED]")]
    assert sorted(m["subject"] for m in alerts) == [
        f"[Airflow FAILED] onboarding_nightly.cohort.{t}[0] (data-eng-2026-12), run {run_id}" for t in ("report", "validate")]
    for m in alerts:
        assert addr(m["to"]) == "oncall@example.edu"
        task = "cohort.validate" if "validate" in m["subject"] else "cohort.report"
        assert f"/dags/onboarding_nightly/runs/{quote(run_id)}/tasks/{task}/mapped/0?try_number=1" in m["text"]
        assert "column 'user_email' (mapped as 'email') is missing" in m["text"]
    assert "data@example.edu" in (alerts[0]["cc"] or "")  # the cohort's data_team is copied
    with airflow_glue_engine().connect() as conn:
        ledger = conn.execute(sa.text("SELECT kind, status, COUNT(*) FROM email_ledger WHERE kind = 'alert' "
                                      "GROUP BY kind, status")).all()
        record = conn.execute(sa.text("SELECT status, record FROM run_reports WHERE run_id = :r AND cohort_id = :c"),
                              {"r": run_id, "c": "data-eng-2026-12"}).one()
    assert ledger == [("alert", "sent", 2)]
    assert record.status == "failed" and "user_email" in json.loads(record.record)["error"]
    fake_google.sent = {k: v for k, v in fake_google.sent.items() if v not in alerts}
    to = [(addr(m["to"]), m["subject"]) for m in fake_google.sent.values()]
    de = [t for t in to if t[0] == "instructor@example.edu"]
    assert len(de) == 1 and de[0][1].startswith("[FAILED] Data Engineering Bootcamp")
    body = next(m["text"] for m in fake_google.sent.values() if addr(m["to"]) == "instructor@example.edu")
    assert "column 'user_email' (mapped as 'email') is missing" in body and str(broken) in body
    # The other cohort ran as usual; the broken one sent nothing to customers.
    assert not any(a.endswith("@uni.edu.au") and "Data Engineering" in s for a, s in to)
    assert any(a == "ux.lead@example.edu" for a, _ in to)


def test_a_run_refused_at_its_start_tells_her_in_one_line_and_the_data_team_too(airflow_db, airflow_env, fake_google,
                                                                               nightly_dag, monkeypatch):
    """A trigger that makes no sense and did not come through the api-server (the CLI, dag.test) is
    still refused by the run's first task: nothing decided or sent, and the alert goes to the
    cohort's instructor, whose request it was, with the data team copied: the reason in one
    sentence, no traceback."""
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    state, run_id = run_night(nightly_dag, dt.date(2026, 12, 5), cohort="data-eng-2026-12", kinds=["stage"])
    assert state == "failed"
    (alert,) = fake_google.sent.values()  # nothing else: no customer email, no summary
    assert alert["subject"].strip() == f"[Run refused] onboarding_nightly (data-eng-2026-12): nothing was sent, run {run_id}"
    assert addr(alert["to"]) == "instructor@example.edu" and "oncall@example.edu" in (alert["cc"] or "")
    reason = ("Email kinds: data-eng-2026-12 sends reminders, cancellations and welcomes, not stage emails; leave "
              "Email kinds empty for all of its kinds.")
    text = alert["text"].replace("\r\n", "\n")
    assert f"nothing was sent:\n\n  {reason}\n" in text
    assert "Traceback" not in text and "AirflowFailException" not in text
    with airflow_glue_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM runs WHERE run_id = :r"), {"r": run_id}).scalar() == 0


def test_the_dag_reads_bounces_before_the_cohorts_decide(airflow_db, airflow_env, fake_google, nightly_dag):
    """The mailbox task, in the real DAG: a hard bounce of one night's reminder is read the next
    night, before the cohort decides, so its cancellation is not sent; the summary says why."""
    from mailbox_messages import dsn

    expected = expected_emails(("ux-2026-12",))
    reminder_night = next(n for n in NIGHTS if any(k == "reminder" for _, k in expected[n]))
    cancel_night = next(n for n in NIGHTS if any(k == "cancellation" for _, k in expected[n]))
    reminded = {e for e, k in expected[reminder_night] if k == "reminder"}
    victim = sorted(reminded & {e for e, k in expected[cancel_night] if k == "cancellation"})[0]
    state, _ = run_night(nightly_dag, reminder_night, cohort="ux-2026-12")
    assert state == "success"
    (sent,) = [m for m in fake_google.sent.values() if addr(m["to"]) == victim]
    fake_google.deliver(dsn(sent["raw"], victim, "5.1.1", sender="ux@example.edu"))
    state, run_id = run_night(nightly_dag, cancel_night, cohort="ux-2026-12")
    assert state == "success"
    cancelled = {addr(m["to"]) for m in fake_google.sent.values() if kind_of(m["subject"]) == "cancellation"}
    assert victim not in cancelled and cancelled == {e for e, k in expected[cancel_night] if k == "cancellation"} - {victim}
    with airflow_glue_engine().connect() as conn:
        status = conn.execute(sa.text("SELECT status, bounce FROM email_ledger WHERE recipient = :e AND kind = 'reminder'"),
                              {"e": victim}).one()
        suppressed = conn.execute(sa.text("SELECT reason, source FROM suppressions WHERE address = :e"), {"e": victim}).one()
        read = conn.execute(sa.text("SELECT run_id, action FROM mailbox_messages")).one()
    assert tuple(status) == ("bounced", "hard") and tuple(suppressed) == ("hard_bounce", "bounce")
    assert tuple(read) == (run_id, "suppressed")
    summary = next(m["text"] for m in reversed(list(fake_google.sent.values())) if kind_of(m["subject"]) == "summary")
    assert summary.count(f"<{victim}>: bounced (hard), address suppressed: 5.1.1") == 1  # once, not per copy

    # She asks to be forgotten: erased on the Onboarding page, from every cohort (erasing from one
    # cohort keeps what is kept for all, such as this hard bounce's entry); the next night runs.
    import ui_client

    api = ui_client.client()
    erasure = {"address": victim.upper(), "cohort": "all", "reason": "asked by email, ticket 4711"}
    viewer = ui_client.bearer(ui_client.token("vic", role="viewer"))
    assert api.post("/onboarding/api/erasures", json=erasure, headers=viewer).status_code == 403
    done = api.post("/onboarding/api/erasures", json=erasure, headers=ui_client.bearer(ui_client.token(role="user")))
    assert done.status_code == 200 and done.json()["scope"] == "*" and victim not in done.text
    state, _ = run_night(nightly_dag, cancel_night + dt.timedelta(days=1))
    assert state == "success"
    engine = airflow_glue_engine()
    with engine.connect() as conn:
        everything = " ".join(str(v) for t in sa.inspect(engine).get_table_names()
                              for r in conn.execute(sa.text(f"SELECT * FROM {t}")) for v in r)  # noqa: S608
        audit = conn.execute(sa.text("SELECT scope, reason FROM erasures")).one()
    assert victim not in everything and tuple(audit) == ("*", "asked by email, ticket 4711")
    folder = airflow_env / "data" / "runs" / "ux-2026-12"
    assert not any(victim in p.read_text(errors="replace") for p in folder.rglob("*.csv"))


def test_an_address_holding_the_old_keys_markers_gets_her_emails_like_anyone(airflow_db, airflow_env, fake_google,
                                                                            nightly_dag, monkeypatch, tmp_path):
    """An address may hold ``|resend|`` (a legal address character and the old ledger key's marker
    of a resend): she is reminded, then cancelled; her classmate is welcomed; the status report
    shows their emails."""
    import shutil

    import yaml

    mae, bea = "mae|resend|x@uni.edu.au", "bea|resend|y+1@uni.edu.au"
    folder = tmp_path / "exports"
    shutil.copytree(SAMPLE / "data-eng-2026-12", folder)
    with open(folder / "signups.csv", "a", encoding="utf-8") as fh:
        fh.write(f"10/21/2026 09:00:00,Mae Resend,{mae.upper()},0400000000,Friend\n"
                 f"10/21/2026 09:05:00,Bea Resend,{bea},0400000001,Friend\n")
    with open(folder / "completions.csv", "a", encoding="utf-8") as fh:
        fh.write(f"{bea},DE-2026-12,2026-12-02T00:00:00Z,90\n")
    conf = yaml.safe_load((ROOT / "config" / "cohorts.yaml").read_text())
    for c in conf["cohorts"]:
        for src in c["sources"].values():
            src["path"] = str((ROOT / "config" / src["path"]).resolve())
    for role in ("signups", "completions"):
        conf["cohorts"][0]["sources"][role]["path"] = str(folder / f"{role}.csv")
    conf["source_roots"] = [str(ROOT / "sample_data"), str(folder)]
    cfg = tmp_path / "cohorts.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cfg))

    got = []
    for night in (dt.date(2026, 12, 1), dt.date(2026, 12, 5)):
        before = set(fake_google.sent)
        state, run_id = run_night(nightly_dag, night, cohort="data-eng-2026-12")
        assert state == "success", night
        got += [(addr(m["to"]), kind_of(m["subject"])) for k, m in fake_google.sent.items() if k not in before]
    assert [k for a, k in got if a == mae] == ["reminder", "cancellation"]
    assert [k for a, k in got if a == bea] == ["reminder", "welcome"]  # completed on the 2nd: welcomed after
    run_dir = max((airflow_env / "data" / "runs" / "data-eng-2026-12").iterdir(), key=lambda p: p.stat().st_mtime)
    with open(run_dir / "report" / "status.csv", encoding="utf-8-sig") as fh:
        status = {r["Email"]: r for r in csv.DictReader(fh)}
    assert status[mae]["Reminder"].startswith("sent") and status[mae]["Cancellation"].startswith("sent")
    assert status[bea]["Welcome"].startswith("sent") and not status[bea]["Cancellation"]
    with airflow_glue_engine().connect() as conn:
        rows = conn.execute(sa.text("SELECT recipient, kind, resend_run_id, status FROM email_ledger "
                                    "WHERE recipient IN (:a, :b) ORDER BY recipient, kind"), {"a": mae, "b": bea}).all()
    assert [tuple(r) for r in rows] == [(bea, "reminder", "", "sent"), (bea, "welcome", "", "sent"),
                                        (mae, "cancellation", "", "sent"), (mae, "reminder", "", "sent")]


def test_the_dags_mailbox_task_survives_a_flood_and_a_forged_bounce(airflow_db, airflow_env, fake_google, nightly_dag):
    """The mailbox task, in the real DAG, on a night when a real hard bounce (and the same report
    again) is followed by 2,000 junk mails and a forged report from mailer-daemon@attacker.example naming another customer's
    email: the real bounce is acted on before the cohort decides, the forged one suppresses
    nobody, and the summary counts what was ignored, by why."""
    from mailbox_messages import dsn

    from onboarding.delivery import feedback

    expected = expected_emails(("ux-2026-12",))
    reminder_night = next(n for n in NIGHTS if any(k == "reminder" for _, k in expected[n]))
    cancel_night = next(n for n in NIGHTS if any(k == "cancellation" for _, k in expected[n]))
    reminded = {e for e, k in expected[reminder_night] if k == "reminder"}
    victim, target = sorted(reminded & {e for e, k in expected[cancel_night] if k == "cancellation"})[:2]
    state, _ = run_night(nightly_dag, reminder_night, cohort="ux-2026-12")
    assert state == "success"
    sent = {addr(m["to"]): m["raw"] for m in fake_google.sent.values() if addr(m["to"]) in (victim, target)}
    fake_google.deliver(dsn(sent[victim], victim, "5.1.1", sender="ux@example.edu"))
    fake_google.deliver(dsn(sent[victim], victim, "5.1.1", sender="ux@example.edu"))  # the report again
    for i in range(2000):
        fake_google.deliver(f"From: promo{i}@shop.example\r\nTo: ux@example.edu\r\nSubject: deal {i}\r\n\r\nx\r\n".encode())
    fake_google.deliver(dsn(sent[target], target, "5.1.1", sender="ux@example.edu",
                            daemon="mailer-daemon@attacker.example"))
    state, run_id = run_night(nightly_dag, cancel_night, cohort="ux-2026-12")
    assert state == "success"
    cancelled = {addr(m["to"]) for m in fake_google.sent.values() if kind_of(m["subject"]) == "cancellation"}
    assert victim not in cancelled and target in cancelled
    with airflow_glue_engine().connect() as conn:
        suppressed = conn.execute(sa.text("SELECT address, reason FROM suppressions")).all()
        read = dict(conn.execute(sa.text("SELECT detail, COUNT(*) FROM mailbox_messages WHERE run_id = :r "
                                         "AND kind = 'ignored' GROUP BY detail"), {"r": run_id}).all())
        cursor = conn.execute(sa.text("SELECT how FROM mailbox_cursors")).scalar()
    assert [tuple(r) for r in suppressed] == [(victim, "hard_bounce")]
    assert read == {feedback.JUNK: 2000, feedback.NOT_A_MAIL_SYSTEM: 1,
                    feedback.ALREADY_BOUNCED.format(bounce="hard"): 1} and cursor == "history"
    summary = next(m["text"] for m in reversed(list(fake_google.sent.values())) if kind_of(m["subject"]) == "summary")
    assert summary.count(f"<{victim}>: bounced (hard), address suppressed: 5.1.1") == 1  # once, not per copy
    assert f"2000  {feedback.JUNK}" in summary and f"1  {feedback.NOT_A_MAIL_SYSTEM}" in summary
