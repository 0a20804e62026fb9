"""The journey engine (issue 13, first part): whole timelines through the 19-step sample (branches,
relative deadlines across a change of clocks, approvals arriving late, rejections and re-entry,
failed quizzes), and, for the seed journey, exactly the standings and emails of today's rules,
for any customers, moment and cohort settings (Hypothesis)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import given, settings as hsettings, strategies as st

from helpers import make_cohort
from onboarding.cohorts import read_yaml
from onboarding.decisions.journey import MAX_VISITS, Approval, Attempt, Facts, Settings, after, walk
from onboarding.decisions.rules import Customer, customer_frame, walk_seed
from onboarding.journeys import SEED, journeys_from

ROOT = Path(__file__).resolve().parents[1]
SYD = ZoneInfo("Australia/Sydney")
SAAS = journeys_from(read_yaml(ROOT / "config" / "journeys.yaml"), ROOT / "config" / "journeys.yaml")["saas-onboarding"]
SET = Settings(deadline_at=dt.datetime(2027, 1, 1, tzinfo=SYD), reminder_window_start=dt.datetime(2026, 12, 1, tzinfo=SYD),
               tz=SYD)


def t(day, hour=10, month=12):
    return dt.datetime(2026, month, day, hour, tzinfo=SYD)


def ev(**events):
    return {f"events:event:{k}": tuple(Attempt(*a) if isinstance(a, tuple) else Attempt(a) for a in v)
            for k, v in events.items()}


def kinds(timeline):
    return [(e.stage, e.kind, e.visit) for e in timeline.emails]


def test_a_new_account_is_reminded_then_cancelled_when_it_never_verifies():
    facts = Facts(t(1))
    assert kinds(walk(SAAS, facts, t(1, 12), SET)) == [("verification", "verification", 1)]
    mid = walk(SAAS, facts, t(3, 11), SET)  # due 4 Dec 10:00: 2d and 1d before have passed
    assert mid.standing == "in_stage" and kinds(mid)[1:] == [("verification", "reminder_1", 1),
                                                              ("verification", "reminder_2", 1)]
    end = walk(SAAS, facts, t(4, 10), SET)
    assert end.standing == "cancelled" and kinds(end)[-1] == ("verification", "cancellation", 1)


def test_details_are_rejected_resubmitted_approved_late_and_training_is_approved_by_rule():
    facts = Facts(t(1), ev(email_verified=[t(2)], details_submitted=[t(3), t(6)],
                           initial_quiz_completed=[(t(12), 60.0), (t(14), 91.0)]),
                  approvals=(Approval("details", "rejected", t(4), "instructor", "company name missing"),
                             # approved after the second visit's due time (6 + 7 days): late, but the
                             # details came in time, so nothing is missed
                             Approval("details", "approved", t(12), "instructor")),
                  csm_assigned_at=t(12))
    # Without a CSM yet (everyone at capacity), the customer waits at the CSM stage, on the
    # instructor, and the CSM's introduction waits with them.
    unplaced = walk(SAAS, replace(facts, csm_assigned_at=None), t(13), SET)
    assert (unplaced.standing, unplaced.stage, unplaced.waits_on) == ("waiting_for_csm", "csm", "instructor")
    assert ("csm", "csm_introduction", 1) not in kinds(unplaced)
    assert walk(SAAS, replace(facts, csm_assigned_at=t(14)), t(13), SET).standing == "waiting_for_csm"
    waiting = walk(SAAS, facts, t(3, 12), SET)
    assert waiting.standing == "awaiting_approval" and waiting.waits_on == "instructor"
    again = walk(SAAS, facts, t(5), SET)
    assert [(v.stage, v.number, v.outcome) for v in again.visits] == [
        ("verification", 1, "completed"), ("details", 1, "rejected"), ("details", 2, "in_progress")]
    assert again.visits[-1].entered_at == t(4) and ("details", "details_form", 2) in kinds(again)
    later = walk(SAAS, facts, t(13), SET)
    assert [v.stage for v in later.visits][-2:] == ["csm", "initial_training"]
    assert later.visits[-1].outcome == "in_progress"  # the 60 did not pass (70): no 'failed' branch
    assert ("csm", "csm_introduction", 1) in kinds(later) and later.visits[-2].entered_at == t(12)
    done = walk(SAAS, facts, t(15), SET)
    training = next(v for v in done.visits if v.stage == "initial_training")
    assert (training.outcome, training.score, training.decided_by) == ("approved", 91.0, "rule")
    # On to steps 12 and 13, side by side (the group 'setup'), both entered at the approval.
    assert done.stage == "setup" and [(v.stage, v.entered_at) for v in done.visits[-2:]] == [
        ("profile", t(14)), ("integrations", t(14))]


def test_an_overdue_stage_escalates_and_the_customer_stays():
    facts = Facts(t(1), ev(email_verified=[t(1, 12)], details_submitted=[t(1, 13)]),
                  approvals=(Approval("details", "approved", t(1, 14), "instructor"),), csm_assigned_at=t(1, 14))
    overdue = walk(SAAS, facts, t(20), SET)  # initial training due 14d after 1 Dec 14:00
    assert overdue.standing == "overdue" and overdue.waits_on == "csm" and overdue.stage == "initial_training"
    assert ("initial_training", "escalation_csm", 1) in kinds(overdue)


def test_advanced_training_only_after_initial_training_was_approved():
    quiz = dict(email_verified=[t(1, 11)], details_submitted=[t(1, 12)], initial_quiz_completed=[(t(2), 75.0)],
                profile_completed=[t(3)], notes_integrated=[t(4)], product_explored=[t(5)],
                advanced_quiz_completed=[(t(6), 95.0)])
    approvals = (Approval("details", "approved", t(1, 13), "instructor"),)
    waiting = walk(SAAS, Facts(t(1), ev(**quiz), approvals, csm_assigned_at=t(1, 13)), t(10), SET)
    assert waiting.stage == "initial_training" and waiting.standing == "awaiting_approval"  # 75: passed, not auto
    assert "advanced_training" not in [v.stage for v in waiting.visits]
    approved = walk(SAAS, Facts(t(1), ev(**quiz), approvals + (Approval("initial_training", "approved", t(7), "csm"),),
                                csm_assigned_at=t(1, 13)), t(10), SET)
    assert approved.standing == "done" and approved.visits[-1].stage == "advanced_training"
    assert ("advanced_training", "advanced_certificate", 1) in kinds(approved)


def test_each_visit_is_dated_by_what_happened_not_by_the_night_that_saw_it():
    """Issue 23.11: a backlog seen at once (the approval and the CSM's placement on later nights)
    dates each visit by its export row or the approver's answer, not by the moment the walk reached
    it; the walk itself, its due times and its emails go on from the entry as before."""
    night = t(10, 19)  # the run that placed her with a CSM: nothing of hers happened then
    rows = dict(email_verified=[t(1, 11)], details_submitted=[t(1, 12)], initial_quiz_completed=[(t(2), 88.0)],
                profile_completed=[t(3)], notes_integrated=[t(11)], product_explored=[t(12, 9)])
    facts = Facts(t(1), ev(**rows), (Approval("details", "approved", t(9, 8), "instructor"),), csm_assigned_at=night)
    out = walk(SAAS, facts, t(12, 19), SET)
    assert {v.stage: (v.entered_at, v.completed_at, v.outcome, v.decided_at) for v in out.visits} == {
        "verification": (t(1), t(1, 11), "completed", None),
        "details": (t(1, 11), t(9, 8), "approved", t(9, 8)),  # approval-gated: done at the answer
        "csm": (t(9, 8), night, "completed", None),  # done on placement, by that night's run
        "initial_training": (night, t(2), "approved", t(2)),  # the rule answers as the score arrives
        "profile": (night, t(3), "completed", None),  # done before it opened: its own row's time
        "integrations": (night, t(11), "completed", None),  # done after it opened: 15 hours in it
        "exploration": (t(11), t(12, 9), "completed", None),
        "advanced_training": (t(12, 9), None, "in_progress", None)}
    # No "please do it" email for the steps already done when their stage opened, as before.
    # Exploration (optional, step 14) opened on 11 Nov and was done a day later: its tips were due.
    assert kinds(out) == [("verification", "verification", 1), ("details", "details_form", 1),
                          ("csm", "csm_introduction", 1), ("exploration", "exploration_tips", 1),
                          ("advanced_training", "advanced_offer", 1)]


def test_a_day_counts_as_a_day_when_the_clocks_change():
    # Sydney moves its clocks forward on Sunday 4 October 2026.
    start = dt.datetime(2026, 10, 2, 10, 0, tzinfo=SYD)
    assert after(start, dt.timedelta(days=3), SYD) == dt.datetime(2026, 10, 5, 10, 0, tzinfo=SYD)
    utc = dt.timezone.utc
    # 71 hours of real time: the night the clocks went forward had 23.
    assert after(start, dt.timedelta(days=3), SYD).astimezone(utc) - start.astimezone(utc) == dt.timedelta(hours=71)
    # Hours are hours of real time.
    assert after(start, dt.timedelta(hours=36), SYD).astimezone(utc) - start.astimezone(utc) == dt.timedelta(hours=36)


def test_a_customer_rejected_again_and_again_stops_and_waits_on_a_person():
    rejections = tuple(Approval("details", "rejected", t(2) + dt.timedelta(minutes=2 * i + 1), "instructor")
                       for i in range(MAX_VISITS + 5))
    submissions = [t(2) + dt.timedelta(minutes=2 * i) for i in range(MAX_VISITS + 5)]
    out = walk(SAAS, Facts(t(1), ev(email_verified=[t(1, 11)], details_submitted=submissions), rejections), t(10), SET)
    assert out.standing == "stuck" and out.waits_on == "instructor" and len(out.visits) == MAX_VISITS


# --- the seed journey decides as docs/how-it-works.md states the rules ------------------------------------
ZONES = ["Australia/Sydney", "America/New_York", "Europe/London", "UTC", "Pacific/Chatham"]


def _rules_as_stated(customers: list[Customer], cohort, as_of) -> list[tuple[str, str]]:
    """The oracle: docs/how-it-works.md's "How it decides", restated plainly per customer (standing, kind due)."""
    out = []
    for c in customers:
        if c.held:
            out.append(("held", ""))
            continue
        if c.completed_at is not None and c.completed_at < cohort.deadline_at:
            welcome = as_of >= cohort.deadline_at or cohort.welcome_timing == "on_completion"
            out.append(("on_time", "welcome" if welcome else ""))
        elif c.completed_at is not None:
            out.append(("completed_late", "cancellation"))
        elif as_of < cohort.deadline_at:
            out.append(("pending", "reminder" if as_of >= cohort.reminder_window_start else ""))
        else:
            out.append(("missed", "cancellation"))
    return out


@hsettings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(ZONES), deadline_day=st.integers(1, 28), grace_h=st.integers(0, 30),
       reminder_days=st.integers(0, 10), timing=st.sampled_from(["after_deadline", "on_completion"]),
       anchor=st.sampled_from(["deadline", "reminder window"]), as_of_h=st.integers(-400, 400),
       people=st.lists(st.tuples(st.one_of(st.none(), st.integers(-600, 600)), st.booleans()), min_size=1, max_size=12))
def test_the_seed_journey_decides_exactly_as_the_rules_are_stated(zone, deadline_day, grace_h, reminder_days, timing,
                                                                  anchor, as_of_h, people):
    """The seed journey, walked by the engine for a whole cohort (``rules.walk_seed``, what the
    decide stage runs), decides for every customer what those rules say."""
    cohort = make_cohort(deadline=dt.date(2026, 3, deadline_day), timezone=zone,
                         grace_period=dt.timedelta(hours=grace_h), reminder_days_before=reminder_days,
                         welcome_timing=timing)
    # Moments around the deadline and around the reminder window's opening, boundaries included.
    as_of = (cohort.deadline_at if anchor == "deadline" else cohort.reminder_window_start) + dt.timedelta(hours=as_of_h)
    customers = [Customer(f"c{i}@x.org", f"C{i}", None if h is None or cohort.deadline_at + dt.timedelta(hours=h) > as_of
                          else cohort.deadline_at + dt.timedelta(hours=h), held)
                 for i, (h, held) in enumerate(people)]
    status, kind = walk_seed(customer_frame(customers), cohort, as_of)
    assert list(zip(status.tolist(), kind.tolist())) == _rules_as_stated(customers, cohort, as_of)


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["email_verified", "details_submitted", "initial_quiz_completed",
                                        "profile_completed", "notes_integrated", "product_explored",
                                        "advanced_quiz_completed"]),
                       st.lists(st.tuples(st.integers(0, 60 * 24), st.one_of(st.none(), st.floats(0, 100))),
                                max_size=3)),
       st.lists(st.tuples(st.sampled_from(["details", "initial_training", "advanced_training"]),
                          st.sampled_from(["approved", "rejected"]), st.integers(0, 60 * 24)), max_size=6),
       st.integers(0, 60 * 24), st.one_of(st.none(), st.integers(0, 60 * 24)))
def test_any_history_gives_an_orderly_timeline(events, approvals, as_of_h, csm_h):
    start = t(1)
    facts = Facts(start, {f"events:event:{k}": tuple(Attempt(start + dt.timedelta(hours=h), v) for h, v in a)
                          for k, a in events.items()},
                  tuple(Approval(s, d, start + dt.timedelta(hours=h), "x") for s, d, h in approvals),
                  csm_assigned_at=None if csm_h is None else start + dt.timedelta(hours=csm_h))
    as_of = start + dt.timedelta(hours=as_of_h)
    out = walk(SAAS, facts, as_of, SET)
    entered = [v.entered_at for v in out.visits]
    assert entered == sorted(entered) and all(e <= as_of for e in entered)
    assert all(v.completed_at is None or v.completed_at <= as_of for v in out.visits)
    # A visit is dated by what happened (an export row, an approver's answer, its entry, the CSM's
    # placement), never by the run's moment; only a row from before the stage opened dates it earlier.
    happened = ({a.at for attempts in facts.evidence.values() for a in attempts} | {a.at for a in facts.approvals}
                | {v.entered_at for v in out.visits} | {facts.csm_assigned_at})
    for v in out.visits:
        assert v.completed_at is None or v.completed_at in happened, v
        if v.completed_at is not None and v.entered_at is not None and v.completed_at < v.entered_at:
            # (rejected too: a row from before the stage opened, its approver's "no" after it opened)
            assert v.outcome in ("completed", "completed_late", "approved", "failed", "awaiting_approval",
                                 "rejected"), v
            assert v.completed_at in {a.at for attempts in facts.evidence.values() for a in attempts}, v
    assert out.standing in ("in_stage", "overdue", "awaiting_approval", "done", "cancelled", "rejected", "stuck",
                            "waiting_for_csm")
    if out.standing == "waiting_for_csm":  # the CSM's introduction waits for the CSM
        assert ("csm", "csm_introduction", 1) not in [(e.stage, e.kind, e.visit) for e in out.emails]
    # Each email at most once per stage visit.
    keys = [(e.stage, e.kind, e.visit) for e in out.emails]
    assert len(keys) == len(set(keys))
    assert dataclasses.asdict(out) == dataclasses.asdict(walk(SAAS, facts, as_of, SET))  # the same moment, the same answer
    assert pd.Series(entered).is_monotonic_increasing or not entered
