"""The production shape, end to end: ``scripts/stack.sh start`` brings up Airflow on PostgreSQL
with the CeleryExecutor on Redis (api-server, scheduler, dag-processor, triggerer, two Celery
workers); a manual run is triggered through the REST API with the body the UI's trigger form
sends; one Celery worker is SIGKILLed (its whole process tree, as a machine dying) in the middle
of the send; the run must still end with every customer emailed exactly once (at the local fake
Gmail server) and the ledger in PostgreSQL agreeing with the mailbox. Then headless Chromium logs
in to the running api-server and opens the trigger form, which must show the DAG's params.

Needs PostgreSQL and Redis on 127.0.0.1 and Debian's Chromium: skipped with the reason where one
is missing, except in CI (CI=true), where .ci/run installs Chromium and a missing piece fails.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from urllib.parse import quote
import uuid
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers import Api, bench_pipeline, free_port, learner_cohort_file

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.stack, pytest.mark.postgres]
N = 300  # customers due a reminder
KILL_AT = 60  # reminders in Sent when one worker is killed
PG = os.environ.get("ONBOARDING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ONBOARDING_TEST_REDIS_URL", "redis://127.0.0.1:6379")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SYD = ZoneInfo("Australia/Sydney")


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must have it)")
    pytest.skip(reason)


def _services() -> None:
    try:
        with sa.create_engine(PG).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        pg = True
    except Exception:  # noqa: BLE001
        pg = False
    _need(pg, f"PostgreSQL not reachable at {PG}")
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        rd = True
    except Exception:  # noqa: BLE001
        rd = False
    _need(rd, f"Redis not reachable at {REDIS}")
    _need(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")


def mailbox(fake) -> list[tuple[str, str]]:
    """(to, subject) in Sent. A subject longer than a header line is folded right after
    'Subject:', and Python's parser keeps the fold's space: strip it, as a mail client does."""
    return [(to, subject.strip()) for to, subject in fake.sent_to()]


def write_cohort(folder: Path, days_to_deadline: int) -> tuple[Path, dt.date]:
    """A cohort of N signed-up customers, none complete, whose deadline is some days from today
    (in Sydney): two days, and a run asked for now owes each of them a reminder; thirty, and
    nothing is due yet."""
    deadline = dt.datetime.now(SYD).date() + dt.timedelta(days=days_to_deadline)
    path = learner_cohort_file(folder, N, deadline, id="e2e-cohort", title="End-to-end Cohort",
                               data_team=["data@example.edu"])
    return path, deadline


def _ppid(pid: int) -> int | None:
    """The parent of a process, from /proc (None once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _pid_tree_root(pid: int, roots: dict[int, str]) -> str | None:
    """Which of ``roots`` (pid -> name) the process ``pid`` descends from."""
    while pid and pid > 1:
        if pid in roots:
            return roots[pid]
        pid = _ppid(pid)
    return None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (ppid := _ppid(int(entry.name))) is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture
def stack(tmp_path, fake_google):
    """The stack of scripts/stack.sh, on fresh databases, pointed at the fake Gmail; stopped and
    dropped afterwards."""
    _services()
    from onboarding.ops import deploy

    tag = uuid.uuid4().hex[:10]
    pg = sa.engine.make_url(PG)
    airflow_db = pg.set(database=f"onb_e2e_airflow_{tag}").render_as_string(hide_password=False)
    state_db = pg.set(database=f"onb_e2e_state_{tag}").render_as_string(hide_password=False)
    cohorts, deadline = write_cohort(tmp_path, days_to_deadline=30)
    port = free_port()
    redis_db = int(os.environ.get("ONBOARDING_TEST_REDIS_DB", "9"))  # flushed: the broker's queues of this test only
    import redis

    redis.Redis.from_url(f"{REDIS}/{redis_db}").flushdb()
    cid, secret, refresh = fake_google.client
    # The nightly schedule is put twelve hours away, so no scheduled run joins the manual one.
    run_time = (dt.datetime.now(SYD) + dt.timedelta(hours=12)).strftime("%H:00")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ONBOARDING_", "GMAIL_"))},
           "STACK_HOME": str(tmp_path / "stack"), "AIRFLOW_DB_URL": airflow_db,
           "ONBOARDING_STATE_URI": state_db.replace("postgresql+psycopg://", "postgres://"),
           "REDIS_URL": f"{REDIS}/{redis_db}", "AIRFLOW__API__PORT": str(port),
           "ONBOARDING_COHORTS_FILE": str(cohorts), "ONBOARDING_RUN_TIME": run_time,
           # Run folders in storage every worker shares, through Airflow's object storage (a bucket
           # in production; a file:// URL here).
           "ONBOARDING_RUNS_BASE": f"file://{tmp_path / 'shared-runs'}",
           "ONBOARDING_EMAIL_BACKEND": "gmail", "GMAIL_CLIENT_ID": cid, "GMAIL_CLIENT_SECRET": secret,
           "GMAIL_REFRESH_TOKEN": refresh, "GMAIL_TOKEN_URI": fake_google.token_uri,
           "GMAIL_API_ENDPOINT": fake_google.url,
           # Paced as Gmail would be, faster: 300 reminders take about a minute, long enough to
           # kill a worker in the middle.
           "GMAIL_UNITS_PER_MINUTE": "30000", "GMAIL_CONCURRENCY": "4", "ONBOARDING_SEND_SLOTS": "1",
           "ONBOARDING_ALERT_TO": "oncall@example.edu",
           "ONBOARDING_RETRY_DELAY_SECONDS": "2",
           # A worker that vanished is noticed after 30 s without a heartbeat (default 300 s).
           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10"}
    info = {"env": env, "port": port, "home": tmp_path / "stack", "state_db": state_db, "deadline": deadline,
            "runs": tmp_path / "shared-runs"}
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "stack.sh"), "start"], env=env, capture_output=True,
                          text=True, timeout=600)
    info["start_seconds"] = time.monotonic() - started
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "stack: up." in proc.stdout
        status = subprocess.run(["bash", str(ROOT / "scripts" / "stack.sh"), "status"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0 and status.stdout.count(": running") == 6, status.stdout
        yield info
    finally:
        stop = subprocess.run(["bash", str(ROOT / "scripts" / "stack.sh"), "stop"], env=env, capture_output=True,
                              text=True, timeout=300)
        logs = tmp_path / "stack" / "logs"
        if logs.exists() and os.environ.get("ONBOARDING_KEEP_STACK_LOGS"):  # for a look after a failure
            keep = Path(os.environ["ONBOARDING_KEEP_STACK_LOGS"])
            shutil.copytree(logs, keep, dirs_exist_ok=True)
            if (tmp_path / "stack" / "airflow" / "logs").exists():
                shutil.copytree(tmp_path / "stack" / "airflow" / "logs", keep / "tasks", dirs_exist_ok=True)
        for url in (airflow_db, state_db):
            deploy.drop_database(url)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert not any((tmp_path / "stack" / "pids").glob("*.pid")), "stack.sh stop left processes behind"


def ui_form_body(api: Api, dag_id: str, **choices) -> dict:
    """The request body the UI's trigger form posts (Airflow 3.3's TriggerDAGForm): every param
    with its value (defaults, then what was chosen), the logical date the form shows (now), no
    data interval (inferred), no run id and no note."""
    details = api("GET", f"/api/v2/dags/{dag_id}/details")
    conf = {name: p.get("value") for name, p in details["params"].items()}
    unknown = set(choices) - set(conf)
    assert not unknown, f"the form has no param(s) {unknown}"
    conf.update(choices)
    return {"conf": conf, "data_interval_end": None, "data_interval_start": None,
            "logical_date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def test_celery_stack_manual_run_survives_a_killed_worker(stack, fake_google):
    home = stack["home"]
    password = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["instructor"]
    api = Api(stack["port"], password)
    # The DAG is parsed by the dag-processor; wait for it, then unpause it as the instructor would.
    deadline = time.monotonic() + 180
    while True:
        dags = api("GET", "/api/v2/dags?dag_id_pattern=onboarding_nightly")["dags"]
        if dags:
            break
        assert time.monotonic() < deadline, "the DAG never appeared"
        time.sleep(2)
    api("PATCH", "/api/v2/dags/onboarding_nightly", {"is_paused": False})
    # Unpaused, the DAG runs its latest nightly slot at once (catchup off: only that one). With
    # the deadline a month away it sends the instructor her summary and nobody anything else.
    while True:
        runs = api("GET", "/api/v2/dags/onboarding_nightly/dagRuns")["dag_runs"]
        if runs and runs[0]["state"] in ("success", "failed"):
            break
        assert time.monotonic() < deadline + 300, f"the scheduled run did not finish: {runs}"
        time.sleep(2)
    assert [(r["run_type"], r["state"]) for r in runs] == [("scheduled", "success")]
    assert [s for _, s in mailbox(fake_google)] == [s for _, s in mailbox(fake_google) if "onboarding run" in s]
    scheduled_summaries = len(fake_google.sent)
    # The exports change: the deadline is now two days away, so every customer is due a reminder.
    write_cohort(home.parent, days_to_deadline=2)
    body = ui_form_body(api, "onboarding_nightly", cohort="e2e-cohort")
    # Email kinds left empty: every kind the cohort sends.
    assert body["conf"]["kinds"] == [] and body["conf"]["dry_run"] is False

    engine = sa.create_engine(stack["state_db"])
    roots = {int((home / "pids" / f"worker{i}.pid").read_text()): f"worker{i}" for i in (1, 2)}
    killed: dict = {}

    def kill_the_sending_worker():
        """When KILL_AT reminders are in Sent, SIGKILL the Celery worker (and every process under
        it) whose task is sending them: the ledger's claim owner names the task's pid."""
        import re

        stop_at = time.monotonic() + 600
        while time.monotonic() < stop_at and not killed:
            if sum(1 for _, s in mailbox(fake_google) if s.startswith("Reminder:")) >= KILL_AT:
                with engine.connect() as conn:
                    owners = conn.execute(sa.text("SELECT owner FROM email_ledger WHERE kind = 'reminder' AND "
                                                  "status IN ('claimed', 'drafted')")).scalars().all()
                for owner in owners:
                    m = re.search(r":(\d+)$", owner or "")
                    worker = _pid_tree_root(int(m.group(1)), roots) if m else None
                    if worker:
                        # The machine dies: the worker and everything under it, including the
                        # task process (Airflow starts it in a process group of its own).
                        root = int((home / "pids" / f"{worker}.pid").read_text())
                        for pid in [root, *_descendants(root)]:
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                        killed.update(worker=worker, owner=owner, sent_at_kill=sum(
                            1 for _, s in mailbox(fake_google) if s.startswith("Reminder:")))
                        return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_sending_worker, daemon=True)
    killer.start()
    started = time.monotonic()
    run = api("POST", "/api/v2/dags/onboarding_nightly/dagRuns", body)
    run_id = run["dag_run_id"]
    assert run["conf"]["cohort"] == "e2e-cohort"
    state = None
    while time.monotonic() - started < 900:
        state = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        time.sleep(3)
    run_seconds = time.monotonic() - started
    killer.join(5)
    tis = {(t["task_id"], t["map_index"]): t for t in
           api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{run_id}/taskInstances")["task_instances"]}

    reminders = Counter(to.split("<")[1].rstrip(">") for to, s in mailbox(fake_google) if s.startswith("Reminder:"))
    duplicates = {k: v for k, v in reminders.items() if v > 1}
    lost = [f"learner{i:04d}@x.org" for i in range(N) if reminders[f"learner{i:04d}@x.org"] == 0]
    summaries = [to for to, s in mailbox(fake_google) if "onboarding run as of" in s][scheduled_summaries:]
    alerts = [s for _, s in mailbox(fake_google) if s.startswith("[Airflow FAILED]")]
    with engine.connect() as conn:
        ledger = conn.execute(sa.text("SELECT kind, status, provider_message_id, recipient FROM email_ledger "
                                      "WHERE cohort_id = 'e2e-cohort'")).all()
        report = conn.execute(sa.text("SELECT status, emails_sent, record FROM run_reports WHERE run_id = :r"),
                              {"r": run_id}).one()
        migrations = conn.execute(sa.text("SELECT COUNT(*) FROM schema_migrations")).scalar_one()
    engine.dispose()
    print(f"\nCelery stack: started in {stack['start_seconds']:.0f}s; run {run_id} {state} in {run_seconds:.0f}s; "
          f"killed {killed}; reminders delivered {len(reminders)}, duplicates {len(duplicates)}, lost {len(lost)}; "
          f"send tries {tis[('cohort.send', 0)]['try_number']}; summaries {len(summaries)}; alerts {len(alerts)}; "
          f"mailbox {Counter(s.split(':')[0][:30] for _, s in mailbox(fake_google))}")

    assert killed, "no worker was killed mid-send"
    assert killed["sent_at_kill"] < N, "the worker was killed after the batch had finished"
    assert state == "success", {k: (v["state"], v["try_number"]) for k, v in tis.items()}
    assert tis[("cohort.send", 0)]["try_number"] >= 2  # the killed try, then a retry on the other worker
    assert duplicates == {} and lost == []
    assert len(summaries) == 1 and "boss@example.edu" in summaries[0]
    assert alerts == []  # a task that succeeded on retry alerts nobody
    # The ledger in PostgreSQL agrees with the mailbox, message for message.
    sent_rows = [r for r in ledger if r.kind == "reminder"]
    assert len(sent_rows) == N and {r.status for r in sent_rows} == {"sent"}
    reminder_ids = {mid for mid, m in fake_google.sent.items() if m["subject"].strip().startswith("Reminder:")}
    assert {r.provider_message_id for r in sent_rows} == reminder_ids
    # The data team's record of the run, in the same database, built by versioned migrations.
    assert report.status == "done" and report.emails_sent == N
    assert json.loads(report.record)["emails"] == {"reminder": {"sent": N}}
    assert migrations >= 5
    # Every stage, whichever worker ran it, read and wrote the same run folder in the shared storage.
    folder = stack["runs"] / "e2e-cohort" / re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    assert {p.name for p in (folder / "inputs").iterdir()} == {"signups.csv", "signups.json", "completions.csv",
                                                               "completions.json"}
    assert (folder / "validation" / "signups.gx.json").exists() and (folder / "summary.txt").exists()
    assert json.loads(report.record)["data_docs"] == f"file://{folder}/validation/data_docs/index.html"

    # The trigger form, as the instructor sees it, in headless Chromium against the api-server.
    texts, cohorts = trigger_form_texts(stack["port"], password, home / "trigger-form.png")
    for label in ("Cohort", "As of", "Dry run", "Email kinds", "Release guards",
                  "Resend one email", "Resend reference",
                  "The cohort to run, or all of them.", "Leave empty to send every kind the cohort sends",
                  "Course cohorts (e2e-cohort): reminders, cancellations, welcomes"):
        assert label in texts, f"{label!r} not on the trigger form"
    assert cohorts == ["All cohorts", "End-to-end Cohort"]

    # The Onboarding page, from Airflow's navigation: the cohort's funnel shows the run's numbers
    # and a customer's search finds the reminder she was sent.
    funnel, emails = onboarding_page(stack["port"], password, home)
    assert funnel["signed_up"] == str(N) and funnel["reminded"] == str(N) and funnel["pending"] == str(N)
    assert emails == [("reminder", "sent")]


def logged_in(browser, url: str, password: str):
    """A page of ``url`` after the instructor signs in on Airflow's login form."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_label("Username").fill("instructor")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page


def trigger_form_texts(port: int, password: str, screenshot: Path) -> tuple[str, list[str]]:
    """Log in as the instructor, open the DAG, click Trigger: the form's text (one section: the
    cohort, the resend's tick-box and its reference box together) and the cohort drop-down's choices."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        try:
            page = logged_in(browser, f"http://127.0.0.1:{port}/dags/onboarding_nightly", password)
            page.wait_for_url("**/dags/onboarding_nightly**", timeout=60000)
            page.get_by_role("button", name="Trigger").first.click()
            form = page.locator("[role=dialog][aria-modal=true]")
            form.get_by_text("Run Parameters").wait_for(timeout=60000)
            text = form.inner_text()
            # The cohort drop-down (the first one) lists the configured cohorts by title.
            form.get_by_role("combobox").first.focus()
            page.keyboard.press("ArrowDown")
            page.get_by_role("option").first.wait_for(timeout=30000)
            options = page.get_by_role("option")
            choices = [options.nth(i).inner_text() for i in range(options.count())]
            page.keyboard.press("Tab")  # keeps "All cohorts" (Escape would close the whole form)
            page.screenshot(path=str(screenshot), full_page=True)
            return text, choices
        finally:
            browser.close()


def onboarding_page(port: int, password: str, home: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Log in, open "Onboarding" in Airflow's navigation, the e2e cohort, then search learner0007:
    the funnel's numbers and her emails (kind, state). Screenshots beside the stack's home."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        try:
            page = logged_in(browser, f"http://127.0.0.1:{port}/", password)
            page.get_by_role("link", name="Onboarding").click()
            frame = page.frame_locator("iframe").first
            frame.get_by_role("link", name="End-to-end Cohort").click()
            # What follows the table is there: the table is parsed whole (a large page arrives in parts).
            frame.locator("#stages").wait_for(timeout=60000)
            funnel = {r.get_attribute("data-step"): r.locator("td").nth(1).inner_text()
                      for r in frame.locator("#funnel tr[data-step]").all()}
            page.screenshot(path=str(home / "onboarding-cohort.png"), full_page=True)
            frame.get_by_label("Search customers").fill("learner0007")
            frame.get_by_role("button", name="Search").click()
            # The unfiltered first page already lists learner0007: wait for the search's answer (one
            # row), not for a row that was there before the click.
            expect(frame.locator("#customer-table tr[data-email]")).to_have_count(1, timeout=60000)
            frame.locator('tr[data-email="learner0007@x.org"]').get_by_role("link").click()
            # What follows the table is there: the table is parsed whole (a large page arrives in parts).
            frame.locator("#technical").wait_for(state="attached", timeout=60000)  # the end of her page
            emails = [(r.get_attribute("data-kind"), r.get_attribute("data-status"))
                      for r in frame.locator("#emails tr[data-kind]").all()]
            page.screenshot(path=str(home / "onboarding-customer.png"), full_page=True)
            return funnel, emails
        finally:
            browser.close()


BIG = 200_000  # signups of the large cohort (the benchmark's generator, with its mess)


@pytest.mark.slow
def test_celery_stack_decides_a_200k_cohort_without_large_xcom(stack, fake_google):
    """The production shape at scale: a cohort of 200,000 signups and 160,000 completions goes
    through extract, validate, decide and report on Celery workers and PostgreSQL, its deadline a
    month away (so nobody is emailed but the instructor), passing only small values between tasks."""
    import yaml

    data = bench_pipeline().generate(BIG)
    deadline = dt.datetime.now(SYD).date() + dt.timedelta(days=30)
    cfg = yaml.safe_load((data / "cohorts.yaml").read_text())
    big = {**cfg["cohorts"][0], "id": "big-cohort", "title": "Big Cohort", "deadline": deadline.isoformat()}
    for role in ("signups", "completions"):
        big["sources"][role]["path"] = str(data / f"{role}.csv")
    path = stack["home"].parent / "cohorts.yaml"
    current = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**current, "source_roots": [str(data)], "cohorts": [big]}))

    home = stack["home"]
    password = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["instructor"]
    api = Api(stack["port"], password)
    started = time.monotonic()
    while not api("GET", "/api/v2/dags?dag_id_pattern=onboarding_nightly")["dags"]:
        assert time.monotonic() - started < 180, "the DAG never appeared"
        time.sleep(2)
    api("PATCH", "/api/v2/dags/onboarding_nightly", {"is_paused": False})
    while True:  # the latest nightly slot runs at once, on the big cohort
        runs = api("GET", "/api/v2/dags/onboarding_nightly/dagRuns")["dag_runs"]
        if runs and runs[0]["state"] in ("success", "failed"):
            break
        if time.monotonic() - started > 900 and runs:
            tis = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{runs[0]['dag_run_id']}/taskInstances")
            raise AssertionError("the run did not finish in 900 s; its tasks: " + str(
                {t["task_id"]: (t["state"], t["start_date"], round(t.get("duration") or 0, 1))
                 for t in tis["task_instances"]}))
        assert time.monotonic() - started < 900, f"the run did not finish: {runs}"
        time.sleep(3)
    run = runs[0]
    elapsed = time.monotonic() - started
    tis = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
    durations = {t["task_id"]: round(t.get("duration") or 0, 1) for t in tis}
    xcoms = [api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{run['dag_run_id']}/taskInstances/{t['task_id']}"
                        f"/xcomEntries/return_value?map_index={t['map_index']}", missing_ok=True)
             for t in tis if t["state"] == "success"]  # a short-circuit that found nothing to ask pushes none
    engine = sa.create_engine(stack["state_db"])
    with engine.connect() as conn:
        report = conn.execute(sa.text("SELECT status, customers, emails_sent, quarantined_rows FROM run_reports "
                                      "WHERE run_id = :r AND cohort_id = 'big-cohort'"), {"r": run["dag_run_id"]}).one()
        staged = conn.execute(sa.text("SELECT COUNT(*) FROM signups WHERE run_id = :r"), {"r": run["dag_run_id"]}).scalar()
    engine.dispose()
    (summary,) = [m for m in fake_google.sent.values() if "onboarding run as of" in m["subject"]]
    print(f"\n200k cohort on the Celery stack: run {run['state']} in {elapsed:.0f}s; task durations {durations}; "
          f"report {tuple(report)}; largest XCom {max(len(json.dumps(x.get('value'))) for x in xcoms)} bytes; "
          f"summary {len(summary['raw'])} bytes")
    assert run["state"] == "success", {t["task_id"]: t["state"] for t in tis}
    assert report.status == "done" and report.customers > 0.98 * BIG and report.emails_sent == 0
    assert staged > 0.99 * BIG and report.quarantined_rows > 0
    assert [m["subject"] for m in fake_google.sent.values()] == [summary["subject"]]  # only the instructor's
    # Readable: the first of each list in the text; the full tables attached only while they stay small.
    assert "... and" in summary["text"] and len(summary["text"]) < 100_000 and len(summary["raw"]) < 5_000_000
    assert max(len(json.dumps(x.get("value"))) for x in xcoms) < 20_000  # tasks pass no data through XCom


def write_journey_cohort(path: Path) -> None:
    """Replace the stack's cohort file with the journey sample (config/journey-cohorts.yaml, its
    paths made absolute): the next run walks the 19-step journey and asks for approvals."""
    import yaml

    doc = yaml.safe_load((ROOT / "config" / "journey-cohorts.yaml").read_text())
    doc["source_roots"] = [str(ROOT / "sample_data")]
    doc["journeys"] = str(ROOT / "config" / "journeys.yaml")
    for c in doc["cohorts"]:
        for s in c["sources"].values():
            s["path"] = str((ROOT / "config" / s["path"]).resolve())
    path.write_text(yaml.safe_dump(doc))


def _awaiting(api: Api, run_id: str, stop_at: float, engine) -> list[dict]:
    """The run's approval requests once every one the run made (``approval_requests`` in the
    state database) waits for an answer in Airflow (in the approvals run the nightly run
    triggered: ``approvals__<run id>`` of ``onboarding_approvals``)."""
    while True:
        with engine.connect() as conn:
            made = conn.execute(sa.text("SELECT COUNT(*) FROM approval_requests WHERE run_id = :r"),
                                {"r": run_id}).scalar()
        details = api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run_id))}/hitlDetails",
                      missing_ok=True).get("hitl_details", [])
        waiting = [d for d in details if d["task_instance"]["state"] == "awaiting_input"]
        if made and len(waiting) == made:
            return waiting
        assert time.monotonic() < stop_at, f"{made} request(s) made, {len(waiting)} waiting: {details}"
        time.sleep(2)


def test_celery_stack_journey_approvals_answered_through_the_api_and_in_the_browser(stack, fake_google):
    """The journey sample on the production shape: the night's approval request waits in
    Airflow (awaiting input) while everything else of the run has finished; the approver answers
    it through the REST API, the answer is recorded with its author; the next run's request is
    answered in headless Chromium, on Airflow's Required Actions page."""
    home = stack["home"]
    password = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())["instructor"]
    api = Api(stack["port"], password)
    write_journey_cohort(Path(stack["env"]["ONBOARDING_COHORTS_FILE"]))
    stop_at = time.monotonic() + 240
    while not api("GET", "/api/v2/dags?dag_id_pattern=onboarding_nightly")["dags"]:
        assert time.monotonic() < stop_at, "the DAG never appeared"
        time.sleep(2)
    api("PATCH", "/api/v2/dags/onboarding_nightly", {"is_paused": False})
    while not (runs := api("GET", "/api/v2/dags/onboarding_nightly/dagRuns")["dag_runs"]):
        assert time.monotonic() < stop_at, "the scheduled run never started"
        time.sleep(2)
    run_id = runs[0]["dag_run_id"]
    engine = sa.create_engine(stack["state_db"])
    (request,) = _awaiting(api, run_id, time.monotonic() + 600, engine)
    # Nothing waits on it: the nightly run sends, reports (the summary reaches Sent) and ends while
    # the request is still unanswered in its approvals run.
    while (nightly := api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{quote(run_id)}")["state"]) not in (
            "success", "failed"):
        assert time.monotonic() < stop_at + 600, "the nightly run did not finish"
        time.sleep(2)
    tis = api("GET", f"/api/v2/dags/onboarding_nightly/dagRuns/{quote(run_id)}/taskInstances")["task_instances"]
    states = {t["task_id"]: t["state"] for t in tis}
    assert nightly == "success" and states["cohort.report"] == "success" and states["cohort.send"] == "success", states
    assert states["ask_approvals"] == "success", states
    waiting = api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run_id))}/taskInstances")
    assert {t["task_id"]: t["state"] for t in waiting["task_instances"]}["approve"] == "awaiting_input"
    assert any("onboarding run as of" in s for _, s in mailbox(fake_google))
    assert request["multiple"] is True and "reject" in request["params"]
    assert request["subject"].startswith("saas-2026-11: approve Tell us about your team (")
    with engine.connect() as conn:
        people = conn.execute(sa.text("SELECT email FROM approval_request_people WHERE run_id = :r ORDER BY ordinal"),
                              {"r": run_id}).scalars().all()
    assert request["options"][:-1] == [o for o in request["options"] if "<" in o] and len(people) > 20
    assert len(request["options"]) == len(people) + 1 and request["options"][-1] == "(approve nobody tonight)"
    chosen = request["options"][:10]
    rejected = people[10]
    ti = request["task_instance"]
    api("PATCH", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run_id))}/taskInstances/approve/"
                 f"{ti['map_index']}/hitlDetails", {"chosen_options": chosen, "params_input": {"reject": f"{rejected}: the VAT id is missing"}})
    while (state := api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run_id))}")["state"]) not in (
            "success", "failed"):
        assert time.monotonic() < stop_at + 600, "the answered run did not finish"
        time.sleep(2)
    assert state == "success"
    with engine.connect() as conn:
        decided = [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT email, decision, decided_by, reason FROM approvals ORDER BY decision, email"))]
        answered = conn.execute(sa.text("SELECT answered_by FROM approval_requests WHERE run_id = :r"),
                                {"r": run_id}).scalar_one()
    assert answered == "instructor"
    assert [d["email"] for d in decided if d["decision"] == "approved"] == sorted(people[:10])
    assert [(d["email"], d["reason"], d["decided_by"]) for d in decided if d["decision"] == "rejected"] == [
        (rejected, "the VAT id is missing", "instructor")]

    # The next run (by hand): its request lists whoever still waits; the approver answers in the browser.
    run = api("POST", "/api/v2/dags/onboarding_nightly/dagRuns", ui_form_body(api, "onboarding_nightly"))
    asks = _awaiting(api, run["dag_run_id"], time.monotonic() + 600, engine)
    (second,) = [a for a in asks if a["subject"].startswith("saas-2026-11: approve Tell us about your team (")]
    assert not set(second["options"]) & set(chosen)  # the approved moved on
    for other in asks:  # the CSMs' requests (initial training of the placed): left unanswered here
        if other is not second:
            assert "customers of" in other["subject"]
    ticked = second["options"][0]
    assert second["params"]["reject"]["schema"].get("format") == "multiline"  # one line per rejection
    shown = answer_in_browser(stack["port"], password, asking(run["dag_run_id"]), second["task_instance"]["map_index"],
                              ticked, home / "required-action.png")
    assert ticked.rsplit("<", 1)[1].rstrip(">") in shown  # the request's table, as the approver reads it
    # The CSMs' requests are answered with "(approve nobody tonight)": nobody decided, the run ends.
    for other in asks:
        if other is not second:
            ti = other["task_instance"]
            api("PATCH", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run['dag_run_id']))}/taskInstances/approve/"
                         f"{ti['map_index']}/hitlDetails", {"chosen_options": ["(approve nobody tonight)"],
                                                                    "params_input": {"reject": None}})
    while (state := api("GET", f"/api/v2/dags/onboarding_approvals/dagRuns/{quote(asking(run['dag_run_id']))}")["state"]) \
            not in ("success", "failed"):
        assert time.monotonic() < stop_at + 1200, "the run answered in the browser did not finish"
        time.sleep(2)
    assert state == "success"
    with engine.connect() as conn:
        latest = conn.execute(sa.text("SELECT email, decision, decided_by FROM approvals WHERE request LIKE :r"),
                              {"r": run["dag_run_id"] + "/%"}).all()
    assert [tuple(r) for r in latest] == [(ticked.rsplit("<", 1)[1].rstrip(">"), "approved", "instructor")]


def asking(run_id: str) -> str:
    """The approvals run a nightly run triggered for its requests."""
    return f"approvals__{run_id}"


def answer_in_browser(port: int, password: str, run_id: str, map_index: int, option: str, screenshot: Path) -> str:
    """Log in, open the approval task's Required Actions, read the request, tick ``option`` and
    respond: the text the approver saw."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        try:
            page = logged_in(browser, f"http://127.0.0.1:{port}/dags/onboarding_approvals/runs/{quote(run_id)}"
                                      f"/tasks/approve/mapped/{map_index}/required_actions", password)
            respond = page.get_by_role("button", name="Respond")
            respond.wait_for(timeout=60000)
            shown = page.inner_text("body")
            try:
                # Airflow's multi-select: type to find the customer, Enter to tick them.
                pick = page.get_by_role("combobox", name="Select one or multiple values")
                pick.click()
                pick.fill(option.rsplit("<", 1)[1].rstrip(">"))
                page.get_by_role("option", name=option).wait_for(timeout=30000)
                page.keyboard.press("Enter")
                page.get_by_text(option, exact=True).last.wait_for(timeout=30000)  # shown as chosen
                respond.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot))
                respond.click(timeout=20000)
                page.get_by_text("response successful").wait_for(timeout=60000)
            except Exception:
                screenshot.with_suffix(".html").write_text(page.content())
                page.screenshot(path=str(screenshot))
                raise
            return shown
        finally:
            browser.close()
