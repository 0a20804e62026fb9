"""DAG integrity: the DAG files import cleanly, cheaply, without touching connections, and carry
the settings the project promises (schedule, retries, tags, params, docs)."""
from __future__ import annotations

import datetime as dt

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "onboarding_nightly" in dagbag.dag_ids


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_touches_no_connection_variable_or_heavy_module(path, tmp_path):
    """Parse each DAG file in a fresh interpreter whose connection and variable lookups fail
    loudly, and check that no heavy library was imported at parse time."""
    probe = f"""
import json, sys, runpy
import airflow.sdk
from airflow.sdk import BaseHook, Variable
def boom(*a, **k):
    raise RuntimeError("lookup at parse time")
BaseHook.get_connection = staticmethod(boom)
Variable.get = staticmethod(boom)
runpy.run_path({str(path)!r})
heavy = ["great_expectations", "pandas", "googleapiclient", "google.oauth2", "gspread",
         "onboarding.validation", "onboarding.delivery", "onboarding.pipeline"]
print(json.dumps([m for m in heavy if m in sys.modules]))
"""
    env = {**os.environ, "AIRFLOW_CONN_ONBOARDING_STATE": "", "AIRFLOW_CONN_ONBOARDING_EMAIL": ""}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_nightly_dag_settings(dagbag):
    dag = dagbag.dags["onboarding_nightly"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"onboarding"} <= set(dag.tags)
    assert dag.doc_md and "Rerunning by hand" in dag.doc_md
    tt = dag.timetable
    assert type(tt).__name__ == "CronTriggerTimetable"
    assert str(getattr(tt, "_timezone", "")) in ("Australia/Sydney", "Timezone('Australia/Sydney')")
    # No "send past-due reminders": a reminder is never sent after its deadline (issue 10).
    # No address either (erase, suppress, resend are asked for on the Onboarding page): Airflow keeps
    # a run's parameters in its own database, where an erasure cannot reach.
    assert set(dag.params.keys()) == {"cohort", "as_of", "dry_run", "release_guards", "kinds", "resend",
                                      "resend_request"}
    assert "Resend an email" in dag.params.get_param("resend_request").description
    # Guards are chosen from a list, by what they mean (the value is the name the summary gives);
    # a name that is none of them is refused when the run is asked for, not by the run.
    guards = dag.params.get_param("release_guards")
    assert guards.schema["items"]["enum"] == ["stale_source", "shrunk_completions", "mass_cancellation", "all"]
    assert guards.schema["values_display"]["mass_cancellation"] == "Too many cancellations (mass_cancellation)"
    assert guards.resolve(["stale_source", "all"]) == ["stale_source", "all"] and guards.resolve(None) is None
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        guards.resolve(["stale"])
    # Short labels, so the chosen kinds fit side by side in the field on a phone.
    assert all(len(label) <= 14 for label in dag.params.get_param("kinds").schema["values_display"].values())
    # The form offers the configured cohorts, and every email kind, by name; none chosen means every
    # kind of the cohort, and the label says which kinds are whose (a course cohort: no stage emails).
    assert dag.params.get_param("cohort").schema["enum"] == ["all", "data-eng-2026-12", "ux-2026-12"]
    kinds = dag.params.get_param("kinds")
    assert kinds.schema["items"]["enum"] == ["reminder", "cancellation", "welcome", "stage"] and dag.params["kinds"] == []
    assert ("Course cohorts (data-eng-2026-12, ux-2026-12): reminders, cancellations, welcomes; "
            "a journey cohort: those and stage emails") in kinds.description
    for name in ("cohort", "as_of", "dry_run", "release_guards"):
        assert dag.params.get_param(name).description
    assert dag.params["dry_run"] is False
    # The resend's tick-box and its reference stand in the form's one section with the cohort (a
    # section of their own would fold the cohort away when opened: Airflow opens one at a time).
    assert dag.params["resend"] is False
    assert not [n for n in dag.params.keys() if dag.params.get_param(n).schema.get("section")]


def test_no_field_help_sends_her_to_a_command(dagbag):
    """The trigger form's help is for the instructor: plain words and the Onboarding page's buttons,
    never a Python command."""
    for dag_id in ("onboarding_nightly", "onboarding_approvals"):
        params = dagbag.dags[dag_id].params
        for name in params.keys():
            param = params.get_param(name)
            text = f"{param.schema.get('title', '')} {param.description or ''}".lower()
            assert "python" not in text and "-m onboarding" not in text, (dag_id, name, text)


def test_every_task_retries(dagbag):
    dag = dagbag.dags["onboarding_nightly"]
    assert {t.task_id for t in dag.tasks} == {"plan", "mailbox", "cohort.extract", "cohort.validate",
                                              "cohort.decide", "cohort.send", "cohort.report", "housekeeping",
                                              "approval_requests", "ask_approvals"}
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        # A failure for good alerts the data team; a retry alerts nobody.
        assert [cb.__name__ for cb in t.on_failure_callback] == ["alert_data_team"], t.task_id
        assert not t.on_retry_callback, t.task_id
    assert dag.get_task("cohort.report").trigger_rule == "all_done"
    # A journey's approvals: asked after every cohort decided (whatever became of the others), in
    # a run of a Dag of their own that the nightly run triggers and does not wait for (so no
    # unanswered request holds the nightly Dag's one active run); an unanswered request closes
    # before the next night.
    assert dag.get_task("approval_requests").trigger_rule == "all_done"
    assert dag.get_task("approval_requests").upstream_task_ids == {"plan", "cohort.decide"}
    ask = dag.get_task("ask_approvals")
    assert ask.trigger_dag_id == "onboarding_approvals" and ask.wait_for_completion is False
    assert set(ask.conf) == {"nightly_run_id"}  # names the run, never a person
    # Each cohort's report stays a last task, so a held or failed cohort fails the run.
    assert {t.task_id for t in dag.leaves} == {"cohort.report", "ask_approvals", "housekeeping"}
    approvals = dagbag.dags["onboarding_approvals"]
    # Only triggered, many waiting at once, never paused (a paused Dag's runs would sit queued).
    assert type(approvals.timetable).__name__ == "NullTimetable" and approvals.max_active_runs > 1
    assert approvals.is_paused_upon_creation is False
    assert {t.task_id for t in approvals.tasks} == {"approval_requests", "approve"}
    approve = approvals.get_task("approve")
    assert not approve.downstream_list and approve.partial_kwargs["response_timeout"] < dt.timedelta(hours=24)
    for t in approvals.tasks:
        assert t.retries >= 1 and [cb.__name__ for cb in t.on_failure_callback] == ["alert_data_team"], t.task_id
