"""A journey cohort's run decided as a whole (``decisions.journey_run.decide_journey``, pure): CSM
placement within capacity and sticky, emails keyed per stage and kind and never too old, reminders
never after their stage's due time, consent and suppression, approval requests per approver,
queries routed to the CSM then escalated, digests grouped per person."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from helpers import make_cohort
from onboarding.cohorts import read_yaml
from onboarding.consent import Suppression
from onboarding.decisions import FORM_KINDS, Resend
from onboarding.decisions.facts import RunFacts as JourneyFacts
from onboarding.decisions.run import decide as decide_journey
from onboarding.identity import EmailId, References
from onboarding.journeys import journeys_from
from onboarding.reporting.digests import digests, needs_lines
from onboarding.times import iso

ROOT = Path(__file__).resolve().parents[1]
LON = ZoneInfo("Europe/London")
SAAS = journeys_from(read_yaml(ROOT / "config" / "journeys.yaml"), ROOT / "config" / "journeys.yaml")["saas-onboarding"]
T0 = dt.datetime(2026, 11, 20, 9, tzinfo=LON)


def t(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


class Ask:
    def __init__(self, as_of, dry_run=False, triggered_at=None, kinds=FORM_KINDS, resend=None):
        self.run_id, self.as_of, self.dry_run, self.kinds = "r1", as_of, dry_run, kinds
        self.release_guards, self.triggered_at, self.resend = (), triggered_at, resend


def cohort(**over):
    base = make_cohort(journey="saas-onboarding", timezone="Europe/London", deadline=dt.date(2026, 12, 31),
                       email_classes={"reminder": "transactional", "cancellation": "transactional",
                                      "welcome": "transactional", "advanced_offer": "marketing"})
    return replace(base, journey_spec=SAAS, completions=None, **over)


def people(n: int, consent: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"email": [f"p{i}@x.org" for i in range(n)], "name": [f"P {i}" for i in range(n)],
                         "first_name": None, "consent": consent, "held": False})


def approved_details(n: int, at: dt.datetime) -> tuple[list[dict], list[dict]]:
    events, approvals = [], []
    for i in range(n):
        e = f"p{i}@x.org"
        events += [{"email": e, "event": "email_verified", "at": iso(t(0.1)), "value": None, "link": None},
                   {"email": e, "event": "details_submitted", "at": iso(t(0.2)), "value": None,
                    "link": f"https://forms.example.com/{i}"}]
        approvals.append({"email": e, "stage": "details", "decision": "approved", "decided_at": iso(at),
                          "decided_by": "lena", "reason": None})
    return events, approvals


def facts(customers, events=(), approvals=(), assignments=(), ledger=None, suppressions=()):
    return JourneyFacts(customers, {e: t(0) for e in customers["email"]}, list(events), list(approvals),
                        list(assignments), ledger if ledger is not None else
                        pd.DataFrame({"email_key": [], "recipient": [], "kind": [], "status": []}),
                        suppressions=tuple(suppressions), refs=References("journey-tests-secret-" * 2))


def test_csms_are_placed_within_capacity_and_the_rest_wait_on_the_instructor():
    roster = tuple(replace(c, capacity=2) for c in SAAS.csms)  # 3 CSMs x 2 places
    journey = replace(SAAS, csms=roster, csm_match=())
    c = replace(cohort(), journey_spec=journey)
    events, approvals = approved_details(8, t(1))
    out = decide_journey(c, journey, Ask(t(1.5)), facts(people(8), events, approvals))
    assert len(out.assigned) == 6 and out.counts["waiting_for_csm"] == 2
    load = pd.Series([a["csm_email"] for a in out.assigned]).value_counts().to_dict()
    assert set(load.values()) == {2}  # least loaded: evenly
    waiting = [w for w in out.waiting if w["standing"] == "waiting_for_csm"]
    assert len(waiting) == 2 and {w["waits_on"] for w in waiting} == {"instructor"}
    # The placed get their CSM's introduction and enter training; the others get nothing of it.
    placed = {a["email"] for a in out.assigned}
    intro = out.decisions[out.decisions["kind"] == "csm:csm_introduction"]
    assert set(intro["email"]) == placed and set(intro["outcome"]) == {"due"}
    # Sticky: a rerun with the assignments recorded places nobody again, and nobody moves.
    again = decide_journey(c, journey, Ask(t(1.5)), facts(people(8), events, approvals,
                                                          [{**a, "run_id": "r1"} for a in out.assigned]))
    assert again.assigned == []
    # A place frees (a bigger capacity): the next night places the waiting.
    bigger = replace(journey, csms=tuple(replace(r, capacity=3) for r in roster))
    later = decide_journey(replace(c, journey_spec=bigger), bigger, Ask(t(2)),
                           facts(people(8), events, approvals, [{**a, "run_id": "r1"} for a in out.assigned]))
    assert {a["email"] for a in later.assigned} == {w["email"] for w in waiting}


def test_emails_are_keyed_by_stage_and_kind_and_old_ones_are_not_sent():
    events, _ = approved_details(1, t(1))
    out = decide_journey(cohort(), SAAS, Ask(t(10)), facts(people(1), events[:1]))
    d = out.decisions.set_index("kind")
    # Verified 10 days ago: the verification email is too old to send; the details form (entered
    # at verification, 9.9 days ago) too; its reminders are due.
    assert d.loc["verification:verification", "outcome"] == "expired"
    assert d.loc["details:details_form", "outcome"] == "expired"
    assert "too old to send" in d.loc["details:details_form", "reason"]
    assert d.loc["details:details_form", "email_key"] == EmailId.journey("c1", "p0@x.org", "details", "details_form", 1).key
    fresh = decide_journey(cohort(), SAAS, Ask(t(0.5)), facts(people(1), events[:1]))
    assert fresh.decisions.set_index("kind").loc["details:details_form", "outcome"] == "due"
    # The ledger has it: already sent, whatever the night.
    ledger = pd.DataFrame({"email_key": [EmailId.journey("c1", "p0@x.org", "details", "details_form", 1).key],
                           "recipient": ["p0@x.org"], "kind": ["details:details_form"], "status": ["sent"]})
    again = decide_journey(cohort(), SAAS, Ask(t(0.6)), facts(people(1), events[:1], ledger=ledger))
    assert again.decisions.set_index("kind").loc["details:details_form", "outcome"] == "already_sent"


def test_a_reminder_is_never_sent_once_its_stage_was_due_in_real_time():
    events, _ = approved_details(1, t(1))
    ask = Ask(t(5), triggered_at=t(9))  # a rerun of night 5, asked for on day 9: details were due on day 7.1
    out = decide_journey(cohort(), SAAS, ask, facts(people(1), events[:1]))
    d = out.decisions.set_index("kind")
    assert d.loc["details:reminder_1", "outcome"] == "moment_passed"


def test_marketing_needs_consent_and_suppression_stops_it():
    journey = SAAS
    e = "p0@x.org"
    quiz = dict(email_verified=0.1, details_submitted=0.2, initial_quiz_completed=(2, 95), profile_completed=3,
                notes_integrated=4, product_explored=5)
    events = [{"email": e, "event": k, "at": iso(t(v[0] if isinstance(v, tuple) else v)),
               "value": v[1] if isinstance(v, tuple) else None, "link": None} for k, v in quiz.items()]
    approvals = [{"email": e, "stage": "details", "decision": "approved", "decided_at": iso(t(1)), "decided_by": "lena",
                  "reason": None}]
    assignments = [{"email": e, "csm_email": "priya@example.com", "csm_name": "Priya Raman", "assigned_at": iso(t(1)),
                    "run_id": "r0"}]
    without = decide_journey(cohort(), journey, Ask(t(5.5)), facts(people(1, consent=0), events, approvals, assignments))
    assert without.decisions.set_index("kind").loc["advanced_training:advanced_offer", "outcome"] == "no_consent"
    unsub = [Suppression(e, "unsubscribed", "mail", "c1")]
    stopped = decide_journey(cohort(), journey, Ask(t(5.5)), facts(people(1), events, approvals, assignments,
                                                                   suppressions=unsub))
    d = stopped.decisions.set_index("kind")
    assert d.loc["advanced_training:advanced_offer", "outcome"] == "suppressed"
    assert d.loc["csm:csm_introduction", "outcome"] in ("due", "expired")  # transactional: an unsubscribe keeps it


def test_csm_approvals_are_asked_of_each_csm_and_queries_go_to_the_csm_then_the_instructor():
    events, approvals = approved_details(4, t(1))
    for i in range(4):
        events.append({"email": f"p{i}@x.org", "event": "initial_quiz_completed", "at": iso(t(3)), "value": 75.0,
                       "link": f"https://lms.example.com/{i}"})
    events += [{"email": "p0@x.org", "event": "query_asked", "at": iso(t(2)), "value": None, "link": "https://s/t/1"},
               {"email": "p1@x.org", "event": "query_asked", "at": iso(t(3.5)), "value": None, "link": "https://s/t/2"},
               {"email": "p2@x.org", "event": "query_asked", "at": iso(t(3)), "value": None, "link": "https://s/t/3"},
               {"email": "p2@x.org", "event": "query_answered", "at": iso(t(3.2)), "value": None, "link": "https://s/t/3"}]
    # The sample's queries are support's (``owner: support``): without an owner they are the CSM's.
    journey = replace(SAAS, queries=replace(SAAS.queries, owner=None))
    out = decide_journey(replace(cohort(), journey_spec=journey), journey, Ask(t(4.5)),
                         facts(people(4), events, approvals))
    training = [r for r in out.requests if r.stage == "initial_training"]
    by_csm = {a["email"]: a["csm_email"] for a in out.assigned}
    assert sorted(r.approver for r in training) == sorted(set(by_csm.values()))
    for r in training:
        assert {w.email for w in r.people} == {e for e, c in by_csm.items() if c == r.approver}
        assert "customers of" in r.subject and "https://lms.example.com/" in r.body
    queries = {w["email"]: w for w in out.waiting if w["standing"] == "open_query"}
    assert set(queries) == {"p0@x.org", "p1@x.org"}  # p2's was answered
    assert queries["p0@x.org"]["waits_on"] == "instructor" and queries["p0@x.org"]["escalated"] == 1  # open 2.5 days
    assert queries["p1@x.org"]["waits_on"] == "csm" and queries["p1@x.org"]["csm_email"] == by_csm["p1@x.org"]
    # As digests: each CSM gets their customers; the instructor's share goes into her summary.
    rows = [{**w, "name": w["email"].upper()} for w in out.waiting]
    found = digests(rows, {c.email: c.name for c in SAAS.csms}, LON, {s.id: s.title for s in SAAS.stages})
    assert set(found) == {"instructor", *by_csm.values()}
    assert any("waits for your approval: Initial product training" in l["what"]
               for d in found.values() if d.recipient != "instructor" for l in d.lines)
    lines = needs_lines(found["instructor"], "https://airflow.example/required_actions")
    assert any("query" in line for line in lines)


def test_a_dry_run_marks_what_would_go_out():
    events, _ = approved_details(2, t(1))
    out = decide_journey(cohort(), SAAS, Ask(t(0.5), dry_run=True), facts(people(2), events[:2]))
    assert not out.enter_ledger and set(out.decisions["outcome"]) <= {"would_send", "expired"}


def test_a_customer_who_finished_frees_their_csm_place():
    one = (replace(SAAS.csms[0], capacity=1),)
    journey = replace(SAAS, csms=one, csm_match=())
    c = replace(cohort(), journey_spec=journey)
    events, approvals = approved_details(2, t(1))
    done = dict(initial_quiz_completed=(2, 95), profile_completed=3, notes_integrated=4, product_explored=5,
                advanced_quiz_completed=(6, 99))
    events += [{"email": "p0@x.org", "event": k, "at": iso(t(v[0] if isinstance(v, tuple) else v)),
                "value": v[1] if isinstance(v, tuple) else None, "link": None} for k, v in done.items()]
    first = [{"email": "p0@x.org", "csm_email": one[0].email, "csm_name": one[0].name, "assigned_at": iso(t(1)),
              "run_id": "r0"}]
    while_busy = decide_journey(c, journey, Ask(t(1.5)), facts(people(2), events, approvals, first))
    assert while_busy.assigned == [] and while_busy.counts["waiting_for_csm"] == 1  # p0 still on the journey
    after = decide_journey(c, journey, Ask(t(7)), facts(people(2), events, approvals, first))
    assert [a["email"] for a in after.assigned] == ["p1@x.org"]  # p0 is done: the place is free


def test_a_customer_placed_days_after_reaching_the_csm_stage_still_gets_the_introduction():
    events, approvals = approved_details(1, t(1))
    late = [{"email": "p0@x.org", "csm_email": SAAS.csms[0].email, "csm_name": SAAS.csms[0].name,
             "assigned_at": iso(t(6)), "run_id": "r6"}]  # waited five days for a place
    out = decide_journey(cohort(), SAAS, Ask(t(6)), facts(people(1), events, approvals, late))
    d = out.decisions.set_index("kind")
    assert d.loc["csm:csm_introduction", "outcome"] == "due"
    assert d.loc["initial_training:training_enrolment", "outcome"] == "due"


def test_the_trigger_forms_kinds_and_a_resend_apply_to_a_journeys_emails():
    """The form's kinds by what each email is: reminders, cancellations, welcomes (on completing a
    stage), stage emails (on entering one); the rest are not even decided. A resend names a
    journey email (``<stage>:<kind>``) that went out before, and gets a key of its own."""
    from onboarding.decisions.run import form_kind

    assert [form_kind(SAAS, k) for k in ("details:reminder_1", "verification:cancellation",
                                          "advanced_training:advanced_certificate", "csm:csm_introduction")] == [
        "reminder", "cancellation", "welcome", "stage"]
    events, _ = approved_details(1, t(1))
    everything = decide_journey(cohort(), SAAS, Ask(t(4.5)), facts(people(1), events[:1])).decisions
    assert {form_kind(SAAS, k) for k in everything["kind"]} == {"stage", "reminder"}
    only = decide_journey(cohort(), SAAS, Ask(t(4.5), kinds=("reminder",)), facts(people(1), events[:1])).decisions
    assert len(only) and set(only["kind"]) == set(everything.loc[everything["kind"].str.contains(":reminder_"), "kind"])

    intro = EmailId.journey("c1", "p0@x.org", "verification", "verification", 1).key
    ledger = pd.DataFrame({"email_key": [intro], "recipient": ["p0@x.org"], "kind": ["verification:verification"],
                           "status": ["sent"]})
    again = Resend("p0@x.org", "verification:verification", "deleted it by mistake")
    out = decide_journey(cohort(), SAAS, Ask(t(0.05), resend=again), facts(people(1), ledger=ledger))
    assert out.refusal is None and out.resend["email_key"] == f"{intro}|resend|r1"
    (row,) = out.decisions[out.decisions["email_key"] == out.resend["email_key"]].to_dict("records")
    assert row["outcome"] == "due" and "deleted it by mistake" in row["reason"]
    never = Resend("p0@x.org", "details:details_form", "not received")
    refused = decide_journey(cohort(), SAAS, Ask(t(0.05), resend=never), facts(people(1), ledger=ledger))
    assert refused.refusal[0] == "resend" and "no details:details_form went out to p0@x.org" in refused.refusal[1]
    stranger = decide_journey(cohort(), SAAS, Ask(t(0.05), resend=Resend("x@y.org", "verification:verification",
                                                                         "just because")), facts(people(1)))
    assert "not a customer of cohort c1" in stranger.refusal[1]


def test_a_backlog_seen_on_one_night_keeps_its_own_days():
    """Issue 23.11 (a), a shape of its own: four accounts whose steps all happened before the
    cohort's first run. That run places them with a CSM (its moment, t(1.5)); their visits and
    their latest completions keep the days of their export rows and approvals, not the run's."""
    events, approvals = approved_details(4, t(0.25))
    for i in range(4):
        e = f"p{i}@x.org"
        events += [{"email": e, "event": "initial_quiz_completed", "at": iso(t(0.3 + i / 10)), "value": 90.0,
                    "link": None},  # 90: approved by the rule (85)
                   {"email": e, "event": "profile_completed", "at": iso(t(0.6 + i / 10)), "value": None, "link": None}]
    out = decide_journey(cohort(), SAAS, Ask(t(1.5)), facts(people(4), events, approvals))
    assert len(out.assigned) == 4  # placed by this run
    done = {(v["email"], v["stage"]): v for v in out.visits}
    for i in range(4):
        e = f"p{i}@x.org"
        assert done[(e, "details")]["completed_at"] == iso(t(0.25))  # the approver's answer
        assert done[(e, "csm")]["completed_at"] == iso(t(1.5))  # done on placement, by this run
        assert (done[(e, "initial_training")]["completed_at"], done[(e, "initial_training")]["decided_at"]) == (
            iso(t(0.3 + i / 10)), iso(t(0.3 + i / 10)))  # the rule answered as the score came
        assert done[(e, "profile")]["completed_at"] == iso(t(0.6 + i / 10))  # before it opened: its row's day
        assert done[(e, "profile")]["entered_at"] == iso(t(1.5))
    # Her latest completion is her own latest step (never the CSM's placement): four days, no spike.
    latest = dict(zip(out.statuses["email"], out.statuses["completed_at"]))
    assert sorted(latest.values()) == [pd.Timestamp(t(0.6 + i / 10)) for i in range(4)]
    # The emails are the walk's as before: each stage's email entered in the last 3 days, but no
    # training enrolment for a quiz already taken when its stage opened.
    assert set(out.decisions[out.decisions["outcome"] == "due"]["kind"]) == {
        "verification:verification", "details:details_form", "csm:csm_introduction"}
