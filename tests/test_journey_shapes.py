"""The journey engine on the shapes the sample never reaches (issue 22, ``journey_shapes``): a
failed quiz's second try, a rejection that ends the journey, a certificate after its approval, an
unreadable time, an event no export carries, and opening emails to those who already did the
step. Each shape as a pure function of the facts, then the same cohort through the real DAG."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import journey_shapes
from onboarding.decisions.journey import Approval, Attempt, Facts, Settings, evidence_key, walk
from onboarding.journeys import parse_journey

import yaml

ROOT = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
SHAPES = parse_journey("shapes", yaml.safe_load(journey_shapes.JOURNEYS)["journeys"]["shapes"], "shapes")
SET = Settings(dt.datetime(2027, 1, 1, tzinfo=LONDON), dt.datetime(2026, 12, 20, tzinfo=LONDON), LONDON)
NIGHT = dt.datetime(2026, 11, 27, 19, tzinfo=dt.timezone.utc)  # the night of 28 Nov, 06:00 in Sydney


def t(day, hour=10, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.timezone.utc)


def ev(**events):
    return {f"events:event:{k}": tuple(Attempt(*a) if isinstance(a, tuple) else Attempt(a) for a in v)
            for k, v in events.items()}


def approved(stage, at):
    return Approval(stage, "approved", at, "lena")


def kinds(timeline):
    return [(e.stage, e.kind, e.visit) for e in timeline.emails]


def test_a_failed_quiz_is_tried_again_and_the_pass_moves_her_on():
    facts = Facts(t(25, 9), ev(account_verified=[t(25)], kickoff_booked=[t(25, 11)], compliance_submitted=[t(25, 12)],
                               quiz_taken=[(t(26), 80.0), (t(25, 14), 50.0), (t(25, 14), 50.0)]),  # out of order, twice
                  (approved("compliance", t(25, 13)),), csm_assigned_at=NIGHT)
    mid = walk(SHAPES, facts, t(25, 20), SET)  # after the failure, before the pass
    assert [(v.stage, v.number, v.outcome) for v in mid.visits][-2:] == [("quiz", 1, "failed"), ("quiz", 2, "in_progress")]
    assert mid.standing == "in_stage" and mid.visits[-1].entered_at == t(25, 14)
    now = walk(SHAPES, facts, NIGHT, SET)
    assert [(v.stage, v.number, v.outcome) for v in now.visits][3:] == [
        ("quiz", 1, "failed"), ("quiz", 2, "completed"), ("csm", 1, "completed"), ("golive", 1, "in_progress")]
    assert (now.standing, now.stage) == ("in_stage", "golive")
    assert kinds(now).count(("quiz", "quiz_invite", 2)) == 1 and len(now.visits) == 7


def test_a_rejection_that_ends_the_journey_ends_it_rejected():
    facts = Facts(t(25, 9), ev(account_verified=[t(25)], kickoff_booked=[t(25, 11)], compliance_submitted=[t(25, 12)]),
                  (Approval("compliance", "rejected", t(25, 13), "lena", "not a company"),))
    out = walk(SHAPES, facts, NIGHT, SET)
    assert (out.standing, out.stage, out.visits[-1].outcome) == ("rejected", None, "rejected")
    assert ("compliance", "compliance_cleared", 1) not in kinds(out)


def test_the_certificate_waits_for_the_approval_and_is_due_from_it():
    facts = Facts(t(25, 9), ev(account_verified=[t(25)], kickoff_booked=[t(25, 11)], compliance_submitted=[t(27)]))
    waiting = walk(SHAPES, facts, NIGHT, SET)
    assert waiting.standing == "awaiting_approval" and ("compliance", "compliance_cleared", 1) not in kinds(waiting)
    later = walk(SHAPES, Facts(facts.signed_up_at, facts.evidence, (approved("compliance", t(28)),)), t(28, 12), SET)
    (cert,) = [e for e in later.emails if e.kind == "compliance_cleared"]
    assert cert.at == t(28)


def test_no_opening_email_to_someone_who_already_did_the_step():
    facts = Facts(t(26, 9), ev(kickoff_booked=[t(26, 9, 30)], account_verified=[t(26)]))
    out = walk(SHAPES, facts, NIGHT, SET)
    assert kinds(out) == [("verification", "verification", 1)] and out.stage == "compliance"
    # A stage done on entering (the CSM's) still sends its own introduction.
    assert SHAPES.stage("csm").evidence.entered


def test_a_customer_placed_late_gets_the_csm_introduction_and_the_current_stage_only():
    # As in the DAG: go-live's event is in no export, so she waits at go-live, overdue, and gets
    # its checklist; the stages she did early send nothing.
    facts = Facts(t(20, 9), ev(account_verified=[t(20)], kickoff_booked=[t(20, 9, 30)], compliance_submitted=[t(20, 12)],
                               quiz_taken=[(t(20, 13), 90.0)]), (approved("compliance", t(21, 9)),),
                  csm_assigned_at=NIGHT)
    unseen = Settings(SET.deadline_at, SET.reminder_window_start, LONDON,
                      never_seen=frozenset({evidence_key(SHAPES.stage("golive"))}))
    out = walk(SHAPES, facts, NIGHT + dt.timedelta(minutes=1), unseen)
    tonight = [(e.stage, e.kind) for e in out.emails if e.at is not None and e.at >= NIGHT]
    assert tonight == [("csm", "csm_introduction"), ("golive", "golive_checklist")]
    assert (out.standing, out.stage) == ("overdue", "golive")
    assert ("quiz", "quiz_invite", 1) not in kinds(out) and ("kickoff", "kickoff_invite", 1) not in kinds(out)


def test_a_stage_reached_after_its_due_time_cancels_without_its_opening_email():
    """Go-live is due 5 days after signup; placed with her CSM a week in, she reaches it after that:
    she is cancelled as she enters, dated at her entry, and never asked to do a step she can no
    longer do in time (before, she got go-live's checklist and the cancellation the same night)."""
    facts = Facts(t(20, 9), ev(account_verified=[t(20)], kickoff_booked=[t(20, 9, 30)], compliance_submitted=[t(20, 12)],
                               quiz_taken=[(t(20, 13), 90.0)]), (approved("compliance", t(21, 9)),),
                  csm_assigned_at=NIGHT)
    out = walk(SHAPES, facts, NIGHT + dt.timedelta(minutes=1), SET)
    assert out.standing == "cancelled" and out.visits[-1].entered_at > out.visits[-1].due_at
    tonight = [(e.stage, e.kind, e.at) for e in out.emails if e.at is not None and e.at >= NIGHT]
    assert tonight == [("csm", "csm_introduction", NIGHT), ("golive", "cancellation", NIGHT)]
    assert max(e.at for e in out.emails) == NIGHT  # nothing dated after her end
    # Reached in time, the same stage still opens with its checklist and cancels at its due time.
    early = Facts(facts.signed_up_at, facts.evidence, facts.approvals, csm_assigned_at=t(22, 9))
    out = walk(SHAPES, early, NIGHT, SET)
    assert [(e.kind, e.at) for e in out.emails if e.stage == "golive"] == [
        ("golive_checklist", t(22, 9)), ("cancellation", out.visits[-1].due_at)]


def test_a_cancel_stage_whose_event_no_export_carries_holds_instead_of_cancelling():
    facts = Facts(t(20, 9), ev(account_verified=[t(20)], kickoff_booked=[t(20, 11)], compliance_submitted=[t(20, 12)],
                               quiz_taken=[(t(20, 13), 90.0)]), (approved("compliance", t(21, 9)),), csm_assigned_at=t(21, 9))
    assert walk(SHAPES, facts, NIGHT, SET).standing == "cancelled"  # went_live due 25 Nov, never seen
    unseen = Settings(SET.deadline_at, SET.reminder_window_start, LONDON,
                      never_seen=frozenset({evidence_key(SHAPES.stage("golive"))}))
    out = walk(SHAPES, facts, NIGHT, unseen)
    assert (out.standing, out.stage, out.waits_on) == ("overdue", "golive", "instructor")
    assert not [e for e in out.emails if e.kind == "cancellation"]


def test_an_unreadable_time_holds_the_customer():
    out = walk(SHAPES, Facts(t(20, 9), {}, held=True), NIGHT, SET)
    assert out.standing == "held" and out.emails == ()
    assert walk(SHAPES, Facts(t(20, 9), {}), NIGHT, SET).standing == "cancelled"  # what holding prevents


def test_journeys_check_lists_the_event_names_an_export_lacks(tmp_path, capsys):
    from onboarding.ops.journeys import main

    journey_shapes.write(tmp_path)
    assert main(["check", str(tmp_path / "journeys.yaml"), "--export", str(tmp_path / "events.csv")]) == 1
    out = capsys.readouterr().out
    assert "missing: shapes: stage 'golive' waits on event 'went_live'" in out
    assert out.count("missing:") == 1
    misspelt = journey_shapes.JOURNEYS.replace("event: account_verified", "event: acount_verified")
    journey_shapes.write(tmp_path, journeys_yaml=misspelt)
    assert main(["check", str(tmp_path / "journeys.yaml"), "--export", str(tmp_path / "events.csv")]) == 1
    assert "stage 'verification' waits on event 'acount_verified'" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "journeys.yaml"), "--export", str(tmp_path / "events.csv"),
                 "--event-column", "Nope"]) == 2


@pytest.mark.dagrun
def test_the_shapes_through_the_dag(airflow_db, airflow_env, fake_google, monkeypatch, tmp_path):
    """The same customers through the real DAG for one night: the decisions, the emails sent, the
    held customer and the instructor's warning about the event no export carries."""
    from airflow.dag_processing.dagbag import DagBag

    from onboarding.resources import Resources
    from test_journey_dag import rows, run_night

    import ui_client
    from onboarding.ops.approver import Approver

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(journey_shapes.write(tmp_path)))
    store = Resources().store()
    store.migrate()
    store.journeys.record_approvals("shapes-2026-11", journey_shapes.APPROVALS, request="before/approve/0")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    dag, approvals = bag.dags["onboarding_nightly"], bag.dags["onboarding_approvals"]
    api = ui_client.client()
    approver = ui_client.bearer(ui_client.token("lena.approver", role="admin"))
    # Sam's request is answered "nobody tonight": she stays waiting for her approval.
    with Approver(api, approver, policy=lambda r: ([o for o in r["options"] if "<" not in o][:1], "")) as person:
        state, run_id = run_night(dag, dt.date(2026, 11, 28), approvals=approvals)
    assert not person.errors and len(person.answered) == 1
    assert state == "success"
    status = {r["email"]: r["status"] for r in rows("SELECT email, status FROM customer_status WHERE run_id = :r",
                                                    r=run_id)}
    assert status == {"quinn@x.org": "golive: in_stage", "rita@x.org": "rejected",
                      "sam@x.org": "compliance: awaiting_approval", "tia@x.org": "held", "uma@x.org": "compliance: in_stage",
                      "vic@x.org": "golive: overdue"}
    keys = {(r["recipient"], r["kind"]) for r in rows("SELECT recipient, kind FROM email_ledger WHERE cohort_id = :c "
                                                      "AND status = 'sent'", c="shapes-2026-11")}
    assert keys == {("quinn@x.org", "verification:verification"), ("quinn@x.org", "kickoff:kickoff_invite"),
                    ("quinn@x.org", "quiz:quiz_invite"), ("quinn@x.org", "csm:csm_introduction"),
                    ("quinn@x.org", "golive:golive_checklist"), ("quinn@x.org", "compliance:compliance_cleared"),
                    ("rita@x.org", "verification:verification"), ("rita@x.org", "kickoff:kickoff_invite"),
                    ("sam@x.org", "verification:verification"), ("sam@x.org", "kickoff:kickoff_invite"),
                    ("uma@x.org", "verification:verification"),
                    ("vic@x.org", "csm:csm_introduction"), ("vic@x.org", "golive:golive_checklist"),
                    ("lead@example.com", "summary")}
    # Quinn's quiz invitation once (the second try's stands for the kind tonight, not 46 visits'); nobody
    # was cancelled: not Tia, whose row was unreadable, nor Vic, whose go-live event no export carries.
    assert len(rows("SELECT 1 FROM email_ledger WHERE recipient = 'quinn@x.org' AND kind = 'quiz:quiz_invite'")) == 1
    assert [v["outcome"] for v in rows("SELECT outcome FROM journey_visits WHERE run_id = :r AND email = 'quinn@x.org' "
                                       "AND stage = 'quiz' ORDER BY visit", r=run_id)] == ["failed", "completed"]
    assert not rows("SELECT 1 FROM email_ledger WHERE kind LIKE '%cancellation'")
    summary = next(m for m in fake_google.sent.values() if m["to"] == "lead@example.com" and "run as of" in m["subject"])
    assert "golive: event 'went_live', 2 customer(s) in the stage" in summary["text"]


def test_every_email_of_the_sample_journey_is_service_mail():
    """Point 7: each sample email asks for or reports a step of the journey (the advanced training
    is one), so none waits on marketing consent: an account without it can still finish."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.decisions.facts import email_classes

    cohort = read_cohort_file(ROOT / "config" / "journey-cohorts.yaml").cohorts["saas-2026-11"]
    classes = email_classes(cohort.journey_spec, cohort.email_classes)
    assert classes["advanced_training:advanced_offer"] == "transactional"
    assert set(classes.values()) == {"transactional"} and len(classes) > 10


LATE_JOURNEY = """
journeys:
  late:
    title: Late stage
    stages:
      - id: profile
        title: Profile
        evidence: {event: profile_completed}
      - id: verification
        title: Verification
        emails_on_enter: [verify_now]
        evidence: {event: email_verified}
        due: {after: signup, duration: 3d}
        on_missed: cancel
"""
# Due 25 Nov 09:00 (three days after signup). Ann verified before her profile: done, no email.
# Bea finished her profile only after the due time: cancelled as she enters, never asked to
# verify. Cai entered in time and never verified: asked to, then cancelled at the due time. Dee
# and Eve, like Ann (two of five cancelled: under the mass-cancellation guard's half).
LATE_SIGNUPS = """Email,Name,Created
ann@x.org,Ann Alder,2026-11-22 09:00
bea@x.org,Bea Beck,2026-11-22 09:00
cai@x.org,Cai Cole,2026-11-22 09:00
dee@x.org,Dee Dunn,2026-11-22 09:00
eve@x.org,Eve Ennis,2026-11-22 09:00
"""
LATE_EVENTS = """Email,Event,At
bea@x.org,profile_completed,2026-11-25 10:00
ann@x.org,profile_completed,2026-11-23 10:00
cai@x.org,profile_completed,2026-11-23 10:00
ann@x.org,email_verified,2026-11-23 09:30
dee@x.org,email_verified,2026-11-22 10:00
dee@x.org,profile_completed,2026-11-22 11:00
eve@x.org,email_verified,2026-11-24 10:00
eve@x.org,profile_completed,2026-11-24 11:00
"""


@pytest.mark.dagrun
def test_a_cancel_stage_reached_late_cancels_at_entry_through_the_dag(airflow_db, airflow_env, fake_google,
                                                                     monkeypatch, tmp_path):
    """The second shape of a stage reached after its due time, through the real DAG: no export
    leaves its event unseen, the lateness comes from the stage before, and the customer who
    reached it in time beside her still gets its opening email and then her cancellation."""
    from airflow.dag_processing.dagbag import DagBag

    from helpers import events_cohort
    from test_journey_dag import rows, run_night

    cohorts = "journeys: journeys.yaml\ncohorts:" + events_cohort(
        "late-2026-11", "Late stage, November 2026", "late", "Northwind Onboarding <onboarding@northwind.example>")
    for name, text in {"cohorts.yaml": cohorts, "journeys.yaml": LATE_JOURNEY, "signups.csv": LATE_SIGNUPS,
                       "events.csv": LATE_EVENTS}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(tmp_path / "cohorts.yaml"))
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    state, run_id = run_night(dag, dt.date(2026, 11, 26), cohort="late-2026-11")
    assert state == "success"
    status = {r["email"]: r["status"] for r in rows(
        "SELECT email, status FROM customer_status WHERE run_id = :r", r=run_id)}
    assert status == {"ann@x.org": "done", "bea@x.org": "cancelled", "cai@x.org": "cancelled", "dee@x.org": "done",
                      "eve@x.org": "done"}
    sent = sorted((r["recipient"], r["kind"]) for r in rows(
        "SELECT recipient, kind FROM email_ledger WHERE cohort_id = 'late-2026-11' AND status = 'sent' "
        "AND recipient LIKE '%@x.org'"))
    assert sent == [("bea@x.org", "verification:cancellation"), ("cai@x.org", "verification:cancellation"),
                    ("cai@x.org", "verification:verify_now")]
    to_bea = [m["raw"] for m in fake_google.sent.values() if b"\r\nTo: Bea Beck <bea@x.org>\r\n" in m["raw"]]
    assert len(to_bea) == 1 and b"Verification" in to_bea[0]  # her one email: the cancellation
    (visit,) = rows("SELECT entered_at, due_at, outcome FROM journey_visits WHERE run_id = :r AND email = 'bea@x.org' "
                    "AND stage = 'verification'", r=run_id)
    assert visit["outcome"] == "missed" and visit["entered_at"] > visit["due_at"]
