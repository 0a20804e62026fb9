"""Erasing staff (docs/privacy.md, "Erasing staff"): a CSM erased mid-journey leaves no copy of
her address or name in the state database, the run folders or the outbox; her customers go back
to waiting for a CSM and are placed with another the next night, even while the roster export
still lists her, and nothing is sent to her again. An erased instructor: the next night runs to
the end without her summary, and the data team's record says why, naming nobody."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

import journey_trial
from test_journey_dag import ROOT, rows, run_night

pytestmark = pytest.mark.dagrun

PRIYA, PRIYA_NAME = "priya@example.com", "Priya Raman"
LEAD = "lead@example.com"
# Bob reaches training the first night with a quiz under the automatic pass: it waits for his
# CSM's approval (Priya's). Mia's capacity is a number here: the second English-speaking CSM.
PROGRESS = journey_trial.PROGRESS.replace("bob@x.org,2026-11-21 11:00,", "bob@x.org,2026-11-21 11:00,2026-11-25 12:00")
EVENTS = journey_trial.EVENTS + "bob@x.org,quiz_completed,2026-11-27 14:00,75\n"
CSMS = journey_trial.CSMS.replace("lots", "2")


@pytest.fixture
def trial(airflow_db, airflow_env, fake_google, monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(journey_trial.write(
        tmp_path, progress_csv=PROGRESS, events_csv=EVENTS, csms_csv=CSMS)))
    return DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]


def _erase(address: str, reason: str) -> dict:
    import ui_client

    api = ui_client.client()
    r = api.post("/onboarding/api/erasures", headers=ui_client.bearer(ui_client.token("dpo", role="admin")),
                 json={"address": address, "cohort": "all", "reason": reason})
    assert r.status_code == 200, r.text
    return r.json()


def _database_text() -> str:
    """Every value of every table of the state database, as text."""
    from onboarding.resources import Resources

    engine = Resources().store().engine
    out = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):  # noqa: S608 - our own table names
                out.append(f"{table}: " + " ".join(str(v) for v in row))
    return "\n".join(out)


def _files_text(*folders) -> str:
    from onboarding.pipeline.erasure import _email_text

    out = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            if path.is_file():
                data = path.read_bytes()
                text = _email_text(data) if path.suffix == ".eml" else data.decode("utf-8", "replace")
                out.append(f"{path}: {text}")
    return "\n".join(out)


def _hits(pattern: re.Pattern, text: str) -> list[str]:
    return [line[:300] for line in text.splitlines() if pattern.search(line)]


def _to(message: dict) -> str:
    return message["to"].rsplit("<", 1)[-1].rstrip(">").lower()


def test_an_erased_csm_is_gone_and_her_customers_get_another(trial, airflow_env, fake_google):
    state, run1 = run_night(trial, dt.date(2026, 11, 28))
    assert state == "success"
    placed = {r["email"]: r["csm_email"] for r in rows("SELECT email, csm_email FROM csm_assignments")}
    assert placed == {"ann@x.org": "jonas@example.com", "bob@x.org": PRIYA, "cai@x.org": "mia@example.com"}
    (request,) = rows("SELECT approver, subject, answered_by FROM approval_requests WHERE run_id = :r", r=run1)
    assert request["approver"] == PRIYA and PRIYA_NAME in request["subject"] and request["answered_by"] is None
    waiting = rows("SELECT email, waits_on FROM journey_waiting WHERE csm_email = :e", e=PRIYA)
    assert {w["email"] for w in waiting} == {"bob@x.org"} and "csm" in {w["waits_on"] for w in waiting}
    assert any(_to(m) == PRIYA for m in fake_google.sent.values())  # her digest, and Bob's introduction from her
    data, everywhere = airflow_env / "data", re.compile(r"priya", re.IGNORECASE)
    assert _hits(everywhere, _database_text()) and _hits(everywhere, _files_text(data))

    result = _erase(PRIYA, f"{PRIYA_NAME} left the company; HR ticket 88")
    assert result["rows"]["csm_assignments"] == 1 and result["rows"]["approval_requests"] == 1
    assert result["rows"]["journey_waiting (placeholder)"] == len(waiting)
    assert not _hits(everywhere, _database_text()), "state database"
    assert not _hits(everywhere, _files_text(data)), "run folders and outbox"
    kept = rows("SELECT approver, subject FROM approval_requests WHERE run_id = :r", r=run1)
    assert kept == [{"approver": f"[erased {result['erasure_id']}]", "subject": request["subject"].replace(
        PRIYA_NAME, "[erased]")}]
    (bob_kept,) = rows("SELECT email, approver FROM approval_request_people WHERE run_id = :r", r=run1)
    assert bob_kept == {"email": "bob@x.org", "approver": kept[0]["approver"]}  # his place on it stays

    # The next night: the roster export still lists her, but Bob goes to Mia (the other English
    # speaker with room); his training now waits on Mia; nothing goes to Priya.
    seen = set(fake_google.sent)
    assert PRIYA in (airflow_env / "csms.csv").read_text()
    state, run2 = run_night(trial, dt.date(2026, 11, 29))
    assert state == "success"
    placed = {r["email"]: (r["csm_email"], r["run_id"]) for r in rows("SELECT email, csm_email, run_id FROM csm_assignments")}
    assert placed["bob@x.org"] == ("mia@example.com", run2) and placed["ann@x.org"][0] == "jonas@example.com"
    assert rows("SELECT approver FROM approval_requests WHERE run_id = :r", r=run2) == [{"approver": "mia@example.com"}]
    new = [m for mid, m in fake_google.sent.items() if mid not in seen]
    assert new and not [m for m in new if PRIYA in _to(m) or everywhere.search(str(m.get("from", "")))]
    assert not rows("SELECT recipient FROM email_ledger WHERE recipient = :e", e=PRIYA)
    assert not _hits(everywhere, _database_text()), "state database after the next night"
    assert not _hits(everywhere, _files_text(data)), "run folders after the next night"


def test_a_journey_file_csm_erased_is_left_out_of_the_roster(tmp_path, engine):
    """The journey file still names her: the roster a night places with leaves her out (the
    decision reads the roster as loaded facts, so it never sees her)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline.decide import roster
    from onboarding.pipeline.erasure import erase
    from onboarding.store import Store

    cohort = next(c for c in read_cohort_file(ROOT / "config" / "journey-cohorts.yaml").cohorts.values()
                  if c.journey_spec and c.journey_spec.csms)
    listed = [c.email for c in cohort.journey_spec.csms]
    store = Store(engine)
    assert [c.email for c in roster(store, cohort, "night-1")] == listed
    erase(store, listed[0], "*", {cohort.id: cohort}, str(tmp_path / "runs"), [], "dpo", "left the company")
    assert [c.email for c in roster(store, cohort, "night-1")] == listed[1:]


def test_an_erased_instructor_gets_no_summary_and_the_night_completes(trial, airflow_env, fake_google):
    state, _ = run_night(trial, dt.date(2026, 11, 28))
    assert state == "success" and any(_to(m) == LEAD for m in fake_google.sent.values())
    _erase(LEAD, "the instructor asked to be forgotten")
    lead = re.compile(re.escape(LEAD), re.IGNORECASE)
    seen = set(fake_google.sent)
    state, run2 = run_night(trial, dt.date(2026, 11, 29))
    assert state == "success"
    new = [m for mid, m in fake_google.sent.items() if mid not in seen]
    assert new and not [m for m in new if LEAD in _to(m) or LEAD in str(m.get("cc", ""))]  # the CSMs' digests went
    (run,) = rows("SELECT status FROM runs WHERE run_id = :r", r=run2)
    assert run["status"] == "done"
    (rec,) = rows("SELECT record FROM run_reports WHERE run_id = :r", r=run2)
    assert "NOT SENT (its recipient, the instructor, was erased)" in rec["record"]
    assert not _hits(lead, _database_text()) and not _hits(lead, _files_text(airflow_env / "data"))


def test_airflows_database_names_a_csm_by_a_pseudonym_and_her_erasure_reaches_it(trial, airflow_env, fake_google):
    """Her approval request waits in an approvals run: the grid's label and the XComs that map the
    request name her approver by a pseudonym (``csm-`` and 10 hex), never her address; the request
    itself (Airflow's human-in-the-loop row) names her until she is erased, then nowhere in
    Airflow's database does her name or address stand."""
    from airflow.dag_processing.dagbag import DagBag

    import ui_client
    from onboarding.ops.approver import Approver
    from privacy_trial import grep_metadata_database

    approvals = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_approvals"]
    api = ui_client.client()
    headers = ui_client.bearer(ui_client.token("lena.approver", role="admin"))
    # "Nobody tonight": Bob stays waiting on her; the answer stands in the audit log as hers to scrub.
    with Approver(api, headers, policy=lambda r: ([o for o in r["options"] if "<" not in o][:1], "")) as person:
        state, run1 = run_night(trial, dt.date(2026, 11, 28), approvals=approvals)
    assert state == "success" and not person.errors
    assert [a["subject"] for a in person.answered if PRIYA_NAME in a["subject"]]  # her request, answered
    her = grep_metadata_database([PRIYA, "priya"])
    assert "hitl_detail.subject" in her  # the request names her, as its approver reads it
    assert not [k for k in her if k.startswith(("task_instance.", "xcom."))], her
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        (asked,) = [r.run_id for r in session.query(DagRun).filter(DagRun.dag_id == "onboarding_approvals")
                    if (r.conf or {}).get("nightly_run_id") == run1]
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == "onboarding_approvals",
                                                 TaskInstance.task_id == "approve", TaskInstance.run_id == asked).all()
        labels = [ti.rendered_map_index for ti in tis]
        assert any(re.fullmatch(r"\S+ · training · csm-[0-9a-f]{10}", label or "") for label in labels), labels
        # A run from before pseudonyms labelled her request with her address: the erasure reaches it too.
        tis[0]._rendered_map_index = f"{tis[0].rendered_map_index.rsplit(' · ', 1)[0]} · {PRIYA}"

    result = _erase(PRIYA, f"{PRIYA_NAME} left the company")
    assert result["approval_requests_scrubbed"]["approval_requests"] >= 1
    assert grep_metadata_database([PRIYA, "priya"]) == {}
