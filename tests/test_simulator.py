"""The journey simulator (issue 25, second point): what it prints for a customer is what the
nightly runs then do to her. Real nights (every stage, through ``dag.test()`` once and through
the pipeline's stages otherwise) on the same events are compared with the simulator's nights:
each night's standing and the emails it sends, by night."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from helpers import run_stages, world_clock

ROOT = Path(__file__).resolve().parents[1]
SYDNEY, RUN_TIME = "Australia/Sydney", dt.time(6)
LONDON = ZoneInfo("Europe/London")
HEADER = ["User Email", "Event", "Occurred At", "Score", "Link"]


def cohort_file(folder: Path, signups: list[list[str]], events: list[list[str]]) -> Path:
    """A journey cohort of the sample's journey (config/journeys.yaml) reading the two exports written here."""
    with open(folder / "signups.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["Created", "Name", "Email", "Marketing OK", "Language"], *signups])
    with open(folder / "events.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *events])
    doc = {"journeys": str(ROOT / "config" / "journeys.yaml"), "cohorts": [{
        "id": "sim-1", "title": "Simulated", "journey": "saas-onboarding", "deadline": "2026-12-31",
        "timezone": "Europe/London", "sender": "Onboarding <onboarding@northwind.example>",
        "instructor": "lead@northwind.example", "email_connection": "onboarding_email",
        "guards": {"max_source_age": None, "max_completion_shrink": None, "max_cancel_share": None},
        "email_classes": {k: "transactional" for k in ("verification", "details_form", "csm_introduction",
                                                       "training_enrolment", "advanced_offer", "advanced_certificate")},
        "sources": {
            "signups": {"type": "csv", "path": str(folder / "signups.csv"),
                        "columns": {"email": "Email", "name": "Name", "signed_up_at": "Created",
                                    "consent": "Marketing OK", "language": "Language"}},
            "events": {"type": "csv", "path": str(folder / "events.csv"),
                       "columns": {"email": "User Email", "event": "Event", "at": "Occurred At", "value": "Score",
                                   "link": "Link"}}}}]}
    path = folder / "cohorts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def her_file(folder: Path, email: str, events: list[list[str]], extra: list[list[str]] = ()) -> Path:
    """Her rows of the export (and the approver's answers, as the simulator reads them) in a file of her own."""
    path = folder / f"{email.split('@')[0]}-events.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *[r for r in events if r[0] == email], *extra])
    return path


def simulated(cohorts: Path, events: Path, signed: str, first: dt.date, last: dt.date, approvals: str = "file"):
    """The simulator's nights, through its command's own pieces, as (moment, status, sent kinds)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline.simulate import read_events_file, simulate_file

    cohort = read_cohort_file(cohorts).cohorts["sim-1"]
    journey = cohort.journey_spec
    customer = read_events_file(events, cohort, journey)
    signed_at = dt.datetime.fromisoformat(signed).replace(tzinfo=LONDON).astimezone(dt.timezone.utc)
    nights = simulate_file(cohort, journey, customer, signed_at, first, last, SYDNEY, RUN_TIME,
                           "approve" if approvals == "approve" else None, attributes={"language": "en"})
    # A night before her signup knows nothing of her (the real run has no line for her either).
    return [(n.moment, f"{n.stage}: {n.standing}" if n.stage else n.standing, sorted(n.sent)) for n in nights
            if n.standing != "not_signed_up"]


def real(store, email: str, cohort_id: str = "sim-1"):
    """What the nightly runs did to her, as (moment, status, kinds sent by that night's run)."""
    from onboarding.times import from_iso

    h = store.analytics.customer(cohort_id, email)
    sent: dict[str, list[str]] = {}
    for e in h["emails"]:
        if e["status"] == "sent":
            sent.setdefault(e["sent_run_id"], []).append(e["kind"])
    return [(from_iso(str(n["as_of"])).astimezone(dt.timezone.utc), n["status"], sorted(sent.get(n["run_id"], [])))
            for n in h["nights"]]


def nights(first: dt.date, last: dt.date) -> list[dt.datetime]:
    from onboarding.decisions.simulate import nightly_moments

    return nightly_moments(first, last, ZoneInfo(SYDNEY), RUN_TIME)


def run_pipeline_nights(engine, tmp_path: Path, cohorts: Path, first: dt.date, last: dt.date, between=None):
    """Every stage of each night's run, without Airflow (emails to an outbox); ``between(i, store)``
    runs after night ``i`` (an approver answering)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.store import Store

    cohort = read_cohort_file(cohorts).cohorts["sim-1"]
    store = Store(engine)
    for i, moment in enumerate(nights(first, last)):
        with world_clock(moment.isoformat()):
            run_stages(engine, cohort, tmp_path, moment, f"scheduled__{moment.isoformat()}")
        if between:
            between(i, store)
    return store


def test_a_missed_verification_cancels_her_as_the_simulator_said_night_by_night(engine, tmp_path):
    """Ann never verifies: two reminders before the 3-day due time (2 and 1 days before it), then
    the cancellation; Bob verifies (so the export carries the event: nobody is held for a misspelt name)."""
    events = [["bob@x.org", "email_verified", "2026-12-01T09:00:00Z", "", ""]]
    cohorts = cohort_file(tmp_path, [["2026-11-30 20:00", "Ann Lee", "ann@x.org", "no", "en"],
                                     ["2026-11-30 20:00", "Bob Roe", "bob@x.org", "no", "en"]], events)
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 5)
    store = run_pipeline_nights(engine, tmp_path, cohorts, first, last)
    signed = [["ann@x.org", "signed_up", "2026-11-30T20:00:00Z", "", ""]]  # her file's one row: she did nothing
    said = simulated(cohorts, her_file(tmp_path, "ann@x.org", events, signed), "2026-11-30 20:00", first, last)
    did = real(store, "ann@x.org")
    assert said == did
    assert [s for _, s, _ in said] == ["verification: in_stage"] * 3 + ["cancelled"]
    sends = [k for _, _, kinds in said for k in kinds]
    assert sends == ["verification:verification", "verification:reminder_1", "verification:reminder_2",
                     "verification:cancellation"]
    assert said[-1][0] == nights(first, last)[-1]  # cancelled on the last night run


def test_a_rejection_and_second_try_then_a_csm_as_the_simulator_said(engine, tmp_path):
    """Cara verifies and submits; the instructor rejects her details after night 2 and approves
    the second submission after night 4: her form again (its second visit), then her CSM."""
    events = [["cara@x.org", "email_verified", "2026-12-01T08:00:00Z", "", ""],
              ["cara@x.org", "details_submitted", "2026-12-01T10:00:00Z", "", "https://forms.example.com/1"],
              ["cara@x.org", "details_submitted", "2026-12-03T10:00:00Z", "", "https://forms.example.com/2"]]
    cohorts = cohort_file(tmp_path, [["2026-11-30 20:00", "Cara Diaz", "cara@x.org", "no", "en"]], events)
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 7)
    moments = nights(first, last)
    answers = {1: ("rejected", moments[1] + dt.timedelta(hours=2)), 3: ("approved", moments[3] + dt.timedelta(hours=2))}

    def approver(i, store):
        if i in answers:
            decision, at = answers[i]
            store.journeys.record_approvals("sim-1", [{
                "email": "cara@x.org", "stage": "details", "decision": decision, "decided_at": at.isoformat(),
                "decided_by": "lena", "reason": "incomplete" if decision == "rejected" else None}], request=f"r{i}")

    store = run_pipeline_nights(engine, tmp_path, cohorts, first, last, approver)
    extra = [["cara@x.org", f"{d}:details", at.isoformat(), "", ""] for d, at in answers.values()]
    said = simulated(cohorts, her_file(tmp_path, "cara@x.org", events, extra), "2026-11-30 20:00", first, last)
    did = real(store, "cara@x.org")
    assert said == did
    statuses = [s for _, s, _ in said]
    waited = statuses.index("details: awaiting_approval")
    assert "details: in_stage" in statuses[waited:]  # rejected: her details again
    assert statuses[-1] == "initial_training: in_stage", statuses
    sends = [k for _, _, kinds in said for k in kinds]
    assert sends.count("details:details_form") == 2  # the second visit's own email
    assert "csm:csm_introduction" in sends and "initial_training:training_enrolment" in sends
    from onboarding.store import Store

    placed = Store(engine).journeys.csm_assignments("sim-1")
    assert [a["email"] for a in placed] == ["cara@x.org"]


@pytest.mark.dagrun
def test_the_simulator_equals_the_nightly_dag_run_by_dag_test(airflow_db, airflow_env, fake_google, monkeypatch,
                                                             tmp_path):
    """Dan through the real Dag (``dag.test()``, emails through the fake Gmail server): he
    verifies late (after the first reminder) and submits his details, then waits on the instructor."""
    events = [["dan@x.org", "email_verified", "2026-12-02T12:00:00Z", "", ""],
              ["dan@x.org", "details_submitted", "2026-12-03T12:00:00Z", "", "https://forms.example.com/d"],
              ["eve@x.org", "email_verified", "2026-12-01T09:00:00Z", "", ""]]
    folder = tmp_path / "exports"
    folder.mkdir()
    cohorts = cohort_file(folder, [["2026-11-30 20:00", "Dan Ode", "dan@x.org", "no", "en"],
                                   ["2026-11-30 21:00", "Eve Fox", "eve@x.org", "no", "en"]], events)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cohorts))
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 4)
    for i, moment in enumerate(nights(first, last)):
        asked = moment + dt.timedelta(seconds=i + 1)
        with world_clock(asked.isoformat()):
            dr = dag.test(logical_date=moment, run_after=asked, run_conf={"cohort": "sim-1"})
        assert str(getattr(dr.state, "value", dr.state)) == "success"
    from onboarding.resources import Resources

    did = real(Resources().store(), "dan@x.org")
    said = simulated(cohorts, her_file(folder, "dan@x.org", events), "2026-11-30 20:00", first, last)
    assert said == did
    assert [k for _, _, kinds in said for k in kinds] == [
        "verification:verification", "verification:reminder_1", "details:details_form"]
    assert said[-1][1] == "details: awaiting_approval"
    subjects = [m["subject"] for m in fake_google.sent.values() if "dan@x.org" in m["to"]]
    assert len(subjects) == 3
