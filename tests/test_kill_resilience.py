"""The sending task SIGKILLed mid-batch three times and retried by Airflow, through refusals and
lost replies: 1,000 due emails, each delivered exactly once.

This runs the real DAG with Airflow's LocalExecutor (``dag.test(use_executor=True)``): each task
is a separate process under Airflow's supervisor, which reports the killed task to Airflow, which
retries it. An api-server of the test's own serves the executor's execution API.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers import free_port, learner_cohort_file

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.dagrun
N = 1000


@pytest.fixture
def api_server(airflow_db, airflow_env, monkeypatch):
    port = free_port()
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{port}/execution/")
    monkeypatch.setenv("AIRFLOW__API__PORT", str(port))
    log = open(airflow_env / "api-server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    import urllib.request

    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/version", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("api-server did not start: " + (airflow_env / "api-server.log").read_text()[-2000:])
            time.sleep(0.5)
    yield port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def big_cohort(tmp_path: Path) -> Path:
    """A cohort of 1,000 signed-up customers, none complete, three days before the deadline."""
    return learner_cohort_file(tmp_path, N, dt.date(2026, 12, 4))


def _end_without_hanging(self) -> None:
    """LocalExecutor.end() joins every worker without a timeout; after workers had their tasks
    SIGKILLed, one can miss its shutdown message and the join never returns (seen with Airflow
    3.3.2 under dag.test(use_executor=True)). Same shutdown, with a bounded wait."""
    for proc in self.workers.values():
        if proc.is_alive():
            self.activity_queue.put(None)
    for proc in self.workers.values():
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
    self._read_results()
    self.activity_queue.close()
    self.result_queue.close()


def test_sigkill_mid_batch_three_times_then_exactly_once(airflow_env, fake_google, api_server, monkeypatch, tmp_path):
    from airflow.callbacks.database_callback_sink import DatabaseCallbackSink
    from airflow.executors.local_executor import LocalExecutor

    monkeypatch.setattr(LocalExecutor, "end", _end_without_hanging)
    # A killed task makes the scheduler queue a callback request (the DAG has an
    # on_failure_callback); a real scheduler gives its executor this sink, dag.test() gives none.
    monkeypatch.setattr(LocalExecutor, "callback_sink", DatabaseCallbackSink(), raising=False)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(big_cohort(tmp_path)))
    monkeypatch.setenv("ONBOARDING_RETRY_DELAY_SECONDS", "1")
    monkeypatch.setenv("ONBOARDING_TASK_RETRIES", "10")
    # The night replayed is 1 Dec 2026, three days before the deadline, whatever today's date.
    monkeypatch.setenv("ONBOARDING_SIMULATED_NOW", "2026-12-01T06:00:00+11:00")
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_EMAIL", json.dumps({"conn_type": "generic", "extra": fake_google.gmail_extra(
        concurrency=4, retry_base_delay=0.05, attempts=10)}))
    fake_google.retry_after = 0
    fake_google.rates = {"429": 0.15, "503": 0.15, "lost": 0.05}
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    state_db = airflow_env / "state.db"
    kills: list[tuple[int, int, int]] = []  # (try, pid, emails in Sent when killed)

    def killer():
        engine = sa.create_engine(f"sqlite:///{state_db}")
        for n, threshold in enumerate((150, 400, 650), start=1):
            while len(fake_google.sent) < threshold or not state_db.exists():
                time.sleep(0.05)
            pid = None
            while pid is None:
                try:
                    with engine.connect() as conn:
                        owners = conn.execute(sa.text(
                            "SELECT owner FROM email_ledger WHERE status IN ('claimed', 'drafted') AND kind = 'reminder'"
                        )).scalars().all()
                except sa.exc.OperationalError:
                    owners = []
                for o in owners:
                    m = re.search(r"/try-(\d+)/[^:]+:(\d+)$", o or "")
                    if m and int(m.group(1)) == n:
                        pid = int(m.group(2))
                time.sleep(0.02)
            os.kill(pid, signal.SIGKILL)
            kills.append((n, pid, len(fake_google.sent)))
        engine.dispose()

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    started = time.monotonic()

    def give_up(*_):
        # A bound on the whole run: stop the executor's workers and fail instead of hanging CI.
        import multiprocessing

        for child in multiprocessing.active_children():
            child.kill()
        raise TimeoutError("the DAG run did not finish within 15 minutes")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(900)
    try:
        night = dt.datetime(2026, 12, 1, 6, tzinfo=ZoneInfo("Australia/Sydney"))
        dr = dag.test(logical_date=night, run_after=night,
                      run_conf={"cohort": "all", "as_of": None, "dry_run": False}, use_executor=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    t.join(5)
    state = str(getattr(dr.state, "value", dr.state))

    customers = Counter(to.split("<")[1].rstrip(">") for to, subject in fake_google.sent_to()
                        if subject.startswith("Reminder:"))
    duplicates = {k: v for k, v in customers.items() if v > 1}
    lost = [f"learner{i:04d}@x.org" for i in range(N) if customers[f"learner{i:04d}@x.org"] == 0]
    engine = sa.create_engine(f"sqlite:///{state_db}")
    with engine.connect() as conn:
        ledger_ids = conn.execute(sa.text("SELECT provider_message_id FROM email_ledger WHERE status = 'sent'")).scalars().all()
    engine.dispose()
    print(f"\nSIGKILL run: {len(customers)} delivered, {len(duplicates)} duplicates, {len(lost)} lost, kills {kills}, "
          f"faults {dict(fake_google.faults_served)}, {elapsed:.0f}s")
    assert [k[0] for k in kills] == [1, 2, 3], "the sending task was not killed three times"
    assert state == "success"
    assert duplicates == {} and lost == []
    assert sorted(ledger_ids) == sorted(fake_google.sent)  # the ledger agrees with the mailbox
    assert fake_google.faults_served["lost"] > 0
