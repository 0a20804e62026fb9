"""Run records that say what happened (issue 21, point 12), through the real DAG (``dag.test()``):
a cohort whose send task failed for good is recorded failed (not done) and says which emails were
left half-way; a cohort whose export could not be read has a run record naming the stage; a run
refused because every completion row was quarantined says so (not "no records")."""
from __future__ import annotations

import datetime as dt
import json
import os

import pytest
import sqlalchemy as sa
import yaml

from test_never_wrong import learners, load_dag, run_night, state_db, task_states, use_cohorts

pytestmark = pytest.mark.dagrun


def runs_row(env, run_id: str, cohort_id: str) -> dict | None:
    with state_db(env).connect() as conn:
        row = conn.execute(sa.text("SELECT status, error FROM runs WHERE run_id = :r AND cohort_id = :c"),
                           {"r": run_id, "c": cohort_id}).one_or_none()
    return dict(row._mapping) if row else None


def summary_of(fake) -> dict:
    (summary,) = [m for m in fake.sent.values() if "onboarding run as of" in m["subject"]]
    return summary


def test_a_send_task_that_failed_for_good_leaves_a_failed_run_that_says_so(airflow_db, airflow_env, fake_google,
                                                                           monkeypatch, tmp_path):
    os.environ["ONBOARDING_TASK_RETRIES"] = "1"  # two tries of the send task, 4 attempts per email each
    try:
        dag = load_dag(retry_delay=0)
    finally:
        os.environ.pop("ONBOARDING_TASK_RETRIES", None)
    use_cohorts(monkeypatch, learners(tmp_path / "q", done=0, total=1))
    fake_google.script("drafts.send", *["503"] * 8)  # the reminder is refused on both tries; the summary goes
    state, run_id = run_night(dag, dt.date(2026, 12, 2))
    assert state == "failed"
    states = task_states(dag, run_id)
    assert states[("cohort.send", 0)] == "failed" and states[("cohort.report", 0)] == "failed"
    run = runs_row(airflow_env, run_id, "guarded")
    assert run["status"] == "failed", run  # not "done"
    assert run["error"].startswith("send: the send task failed") and "1 email(s) were left half-way" in run["error"]
    with state_db(airflow_env).connect() as conn:
        left = conn.execute(sa.text("SELECT status FROM email_ledger WHERE kind = 'reminder'")).scalars().all()
    assert left and set(left) <= {"claimed", "drafted"}
    summary = summary_of(fake_google)
    assert summary["subject"].startswith("[FAILED]")
    assert "1 email(s) were left half-way" in summary["text"] and "stopped after stage" not in summary["text"]


def test_an_export_that_could_not_be_read_leaves_a_run_record_naming_the_stage(airflow_db, airflow_env, fake_google,
                                                                               monkeypatch, tmp_path):
    dag = load_dag(retry_delay=0)
    path = learners(tmp_path / "q", done=0, total=2)
    cfg = yaml.safe_load(path.read_text())
    cfg["cohorts"][0]["sources"]["signups"] = {"type": "google_sheet", "spreadsheet": "1SignupsSheet",
                                               "columns": {"email": "Email", "name": "Name"}}
    path.write_text(yaml.safe_dump(cfg))
    use_cohorts(monkeypatch, path)
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_GOOGLE", json.dumps({"conn_type": "generic",
                                                                     "extra": fake_google.google_extra()}))
    fake_google.add_spreadsheet("1SignupsSheet", {"Form Responses 1": [["Email", "Name"], ["l00@g.org", "L"]]})
    fake_google.script("sheets.get", *["503"] * 200)  # Sheets does not answer, on every try
    fake_google.script("drive.files.get", *["503"] * 200)
    state, run_id = run_night(dag, dt.date(2026, 12, 2))
    assert state == "failed"
    assert task_states(dag, run_id)[("cohort.extract", 0)] == "failed"
    run = runs_row(airflow_env, run_id, "guarded")
    assert run is not None and run["status"] == "failed", run
    assert run["error"].startswith("extract: ") and "1SignupsSheet" in run["error"], run
    summary = summary_of(fake_google)
    assert "stopped after stage 'none'" not in summary["text"] and "extract: " in summary["text"]
    assert "SENT NOTHING TO CUSTOMERS" in summary["text"]


def test_a_completion_export_whose_rows_were_all_quarantined_is_not_called_empty(airflow_db, airflow_env,
                                                                                 fake_google, monkeypatch, tmp_path):
    dag = load_dag(retry_delay=0)
    path = learners(tmp_path / "q", done=0, total=2)
    (tmp_path / "q" / "completions.csv").write_text("Email,Done\nnot-an-address,2026-11-30T01:00:00Z\n"
                                                    "l00@g.org,not a time\n")
    use_cohorts(monkeypatch, path)
    state, run_id = run_night(dag, dt.date(2026, 12, 5))  # after the deadline: cancellations would be due
    assert state == "failed"
    run = runs_row(airflow_env, run_id, "guarded")
    assert "none of the completion export's 2 row(s) could be used (all quarantined)" in run["error"], run
    assert "has no records" not in run["error"]


def test_a_broken_cohort_file_with_no_alert_sender_says_so_plainly_in_the_log(airflow_db, airflow_env, fake_google,
                                                                               monkeypatch, tmp_path, capfd, caplog):
    """No cohort has a usable sender and onboarding_alert_from is unset: no alert can go out, so
    the task log says which task failed, why, and what to set."""
    dag = load_dag(retry_delay=0)
    broken = tmp_path / "cohorts.yaml"
    broken.write_text("cohorts: []\n")
    use_cohorts(monkeypatch, broken)
    monkeypatch.setenv("AIRFLOW_VAR_ONBOARDING_ALERT_TO", "oncall@example.edu")
    state, run_id = run_night(dag, dt.date(2026, 12, 2))
    assert state == "failed" and task_states(dag, run_id)[("plan", -1)] == "failed"
    assert not [m for m in fake_google.sent.values() if m["subject"].startswith("[Airflow FAILED]")]
    out = "\n".join((*capfd.readouterr(), caplog.text))  # where the log goes depends on Airflow's logging setup
    line = next(line for line in out.splitlines() if "FAILURE NOT ALERTED" in line)
    assert "plan failed" in line and run_id in line and "expected a top-level 'cohorts:' list" in line
    assert "set the Airflow variable onboarding_alert_from" in line
