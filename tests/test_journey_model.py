"""A property-based model of the journey engine (issue 22): Hypothesis writes journeys (any graph
the checker accepts: approvals, ``passed``/``failed``/``rejected`` branches, ``end``, reminders,
cancel stages, a stage done on entering) and event histories (out of order, duplicates, rows
late or early, unreadable cells, approvals and rejections), and every night of two weeks is
checked against the engine's promises:

- the walk ends without ``stuck`` unless ``MAX_VISITS`` (the documented limit) was reached;
- a customer who completes (and is approved at) every stage ends ``done``; a journey that ends
  on a rejection or a failure (a branch to ``end``, or none) ends ``rejected``;
- no email on entering a stage already complete at entry; no completion email before the
  stage's approval; no cancellation for a customer held by an unreadable cell, or at a stage
  whose event no export carries;
- at most one email per key (stage, kind, visit); the same night walked again, or with the
  rows in another order, decides the same;
- the new shapes (issue 25): a stage of named evidences is done only with all of them (``all``)
  or one (``any``), and its count is what the rows say; no reminder on or after a visit's due
  time; an optional stage undone when due is skipped, never cancelled or escalated, and sends
  nothing once skipped; stages side by side (``together``) are entered at once and the walk goes
  past them (the join) only when every member is done, never before the last was; a member missed
  with ``on_missed: cancel`` cancels.

Bounded so CI stays fast: 150 journeys x histories, 14 nights each (about 5 s on one core),
and 100 journeys for the complete and rejected customers."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st

from onboarding.decisions.journey import (MAX_VISITS, Approval, Attempt, Facts, Settings, evidence_key, unit_key,
                                          unseeable, walk)
from onboarding.errors import ConfigError
from onboarding.journeys import END, Journey, parse_journey

UTC = dt.timezone.utc
START = dt.datetime(2026, 11, 2, tzinfo=UTC)
SET = Settings(dt.datetime(2026, 12, 31, tzinfo=UTC), dt.datetime(2026, 12, 20, tzinfo=UTC), UTC)
NIGHTS = 14
BOUNDED = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def journeys(draw) -> Journey:
    """A journey the checker accepts, written as its YAML would be."""
    n = draw(st.integers(1, 5))
    stages = []
    for i in range(n):
        if draw(st.integers(0, 4)) == 0:  # side by side: two or three members, each a stage of its own
            members = []
            for j in range(draw(st.integers(2, 3))):
                m: dict = {"id": f"s{i}m{j}", "evidence": {"event": f"e{i}m{j}"}}
                if draw(st.booleans()):
                    m["due"] = {"after": "entered", "duration": f"{draw(st.integers(1, 6))}d"}
                    m["on_missed"] = draw(st.sampled_from(["cancel", "nothing", "optional"]))
                    if m["on_missed"] == "optional":
                        m["on_missed"], m["optional"] = "nothing", True
                if draw(st.booleans()):
                    m["emails_on_enter"] = [f"open{i}m{j}"]
                if draw(st.booleans()):
                    m["approval"] = {"by": "instructor"}
                    m["next"] = [{"if": "rejected", "to": draw(st.sampled_from([m["id"], END]))}]
                members.append(m)
            stages.append({"id": f"s{i}", "together": members})
            continue
        kind = draw(st.sampled_from(["event", "event", "score", "entered", "all", "any"]))
        s: dict = {"id": f"s{i}"}
        if kind == "entered":
            s["evidence"] = {"entered": True}
        elif kind in ("all", "any"):
            s["evidence"] = {kind: [{"name": f"p{j}", "event": f"e{i}p{j}",
                                     **({"score": {"pass_mark": 70}} if draw(st.booleans()) else {})}
                                    for j in range(draw(st.integers(2, 3)))]}
        else:
            s["evidence"] = {"event": f"e{i}"}
            if kind == "score":
                s["evidence"]["score"] = {"pass_mark": 70}
        if kind != "entered" and draw(st.booleans()):
            days = draw(st.integers(1, 6))
            s["due"] = {"after": draw(st.sampled_from(["entered", "signup"])), "duration": f"{days}d"}
            if days > 1 and draw(st.booleans()):
                s["reminders"] = ["1d"]
            s["on_missed"] = draw(st.sampled_from(["cancel", "nothing"]))
            if s["on_missed"] == "nothing" and draw(st.booleans()):
                s["optional"] = True
        if draw(st.booleans()):
            s["emails_on_enter"] = [f"open{i}"]
        if draw(st.booleans()):
            s["emails_on_complete"] = [f"done{i}"]
        approval = kind != "entered" and draw(st.booleans())
        if approval:
            s["approval"] = {"by": "instructor"}
            if kind == "score" and draw(st.booleans()):
                s["approval"]["auto_if_score_at_least"] = 90
        targets = [f"s{j}" for j in range(i + 1, n)] + [END]
        back = [f"s{j}" for j in range(0, i + 1)] + [END]
        branches = []
        if approval and draw(st.booleans()):
            branches.append({"if": "approved", "to": draw(st.sampled_from(targets))})
            branches.append({"if": "rejected", "to": draw(st.sampled_from(back))})
        if kind == "score" and draw(st.booleans()):
            branches.append({"if": "passed", "to": draw(st.sampled_from(targets))})
            branches.append({"if": "failed", "to": draw(st.sampled_from(back))})
        if branches:
            if s.get("optional") or draw(st.booleans()):  # a skipped stage leads on by its plain next
                branches.append({"to": targets[0]})
            s["next"] = branches
        stages.append(s)
    try:
        return parse_journey("model", {"stages": stages}, "model")
    except ConfigError:
        assume(False)  # a stage nothing leads to: not a journey the checker accepts
        raise


def at(day: float) -> dt.datetime:
    return START + dt.timedelta(hours=round(day * 24))


@st.composite
def histories(draw, journey: Journey):
    """One customer's rows: per stage, attempts at any time (duplicates, before and after the stage
    opens), approvals and rejections at any time; held when a cell was unreadable; some events
    never seen in any export."""
    evidence: dict[str, tuple[Attempt, ...]] = {}
    approvals = []
    unseen = set()
    for s in journey.stages:
        if s.evidence.entered or s.members:
            continue
        for u in s.evidence.units():  # the stage's evidence, or each of its named ones
            key = unit_key(u)
            times = draw(st.lists(st.floats(0, NIGHTS, allow_nan=False), max_size=4))
            rows = [Attempt(at(d), float(draw(st.sampled_from([40, 70, 95]))) if u.pass_mark is not None else None)
                    for d in times]
            rows += rows[:draw(st.integers(0, len(rows)))]  # the same rows twice
            if rows:
                evidence[key] = tuple(rows)
            elif s.on_missed == "cancel" and draw(st.booleans()):
                unseen.add(key)
        if s.approval_by:
            for d in draw(st.lists(st.floats(0, NIGHTS, allow_nan=False), max_size=3)):
                approvals.append(Approval(s.id, draw(st.sampled_from(["approved", "rejected"])), at(d), "lena"))
    signed = at(draw(st.floats(0, 3, allow_nan=False)))
    return Facts(signed, evidence, tuple(approvals), held=draw(st.booleans()) and draw(st.booleans()),
                 csm_assigned_at=None), frozenset(unseen)


def check_night(journey: Journey, facts: Facts, as_of: dt.datetime, settings: Settings, seed: int):
    t = walk(journey, facts, as_of, settings)
    # Walked again, and with the rows in another order: the same timeline.
    shuffled = random.Random(seed)
    again = Facts(facts.signed_up_at, {k: tuple(shuffled.sample(v, len(v))) for k, v in facts.evidence.items()},
                  tuple(shuffled.sample(facts.approvals, len(facts.approvals))), facts.held)
    assert walk(journey, facts, as_of, settings) == t
    assert walk(journey, again, as_of, settings) == t
    assert t.standing != "stuck" or len(t.visits) >= MAX_VISITS
    # Each failed visit is a failing attempt of its own, each rejected one a rejection of its own:
    # the same row never counts twice (the histories here are far below the limit: never stuck).
    for s in journey.stages:
        failing = {a.at for a in facts.evidence.get(evidence_key(s), ()) if a.value is not None
                   and s.evidence.pass_mark is not None and a.value < s.evidence.pass_mark}
        rejections = {a.at for a in facts.approvals if a.stage == s.id and a.decision == "rejected"}
        mine = [v.outcome for v in t.visits if v.stage == s.id]
        assert mine.count("failed") <= len(failing) and mine.count("rejected") <= len(rejections), (s.id, mine)
    assert t.standing != "stuck"
    if facts.held:
        assert t.standing == "held" and t.emails == ()
        return t
    keys = [(e.stage, e.kind, e.visit) for e in t.emails]
    assert len(keys) == len(set(keys)), keys
    visit = {(v.stage, v.number): v for v in t.visits}
    for g in (s for s in journey.stages if s.members):
        mine = [k for k, v in enumerate(t.visits) if journey.stage(v.stage).group == g.id]
        if mine and mine[-1] + 1 < len(t.visits):  # the walk went past the group: the join
            last = {v.stage: v for v in t.visits[:mine[-1] + 1] if journey.stage(v.stage).group == g.id}
            assert set(last) == set(g.members) and all(
                v.outcome in ("completed", "completed_late", "approved", "skipped") for v in last.values()), t
            joined = t.visits[mine[-1] + 1].entered_at
            for v in last.values():
                done = v.due_at if v.outcome == "skipped" else v.decided_at or v.completed_at
                assert joined is None or done is None or joined >= done, (joined, v)
        if mine:
            entries = {v.entered_at for v in t.visits if journey.stage(v.stage).group == g.id and v.number == 1}
            assert len(entries) == 1, entries  # entered at once
    for v in t.visits:
        stage = journey.stage(v.stage)
        if stage.group and v.outcome == "missed" and stage.on_missed == "cancel" \
                and not unseeable(stage, settings.never_seen):
            assert t.standing == "cancelled", t  # a member's cancel cancels
        if v.outcome == "skipped":  # only an optional stage, undone at its due time, is skipped
            assert stage.optional and as_of >= v.due_at and v.completed_at is None, v
            assert not [e for e in t.emails if (e.stage, e.visit) == (v.stage, v.number)], (v, t.emails)
        if stage.optional:
            assert v.outcome not in ("missed", "overdue"), v
        if stage.evidence.need:  # the count is the rows': each named evidence done counted once
            parts = [p.name for p in stage.evidence.parts]
            assert v.evidence_done is not None and set(v.evidence_done) <= set(parts), v
            if v.outcome in ("completed", "completed_late", "approved", "awaiting_approval"):
                assert v.evidence_done and (stage.evidence.need == "any" or list(v.evidence_done) == parts), v
        else:
            assert v.evidence_done is None, v
    for e in t.emails:
        stage = journey.stage(e.stage)
        v = visit[(e.stage, e.visit)]
        if e.kind in stage.emails_on_enter and not stage.evidence.entered:
            assert v.completed_at is None or v.entered_at is None or v.completed_at > v.entered_at, (e, v)
        if e.kind in stage.emails_on_complete:
            assert v.outcome in ("completed", "completed_late", "approved"), (e, v)
            if stage.approval_by:
                assert v.outcome == "approved" and e.at >= v.decided_at, (e, v)
        if e.kind in stage.emails_on_enter and stage.on_missed == "cancel" \
                and not unseeable(stage, settings.never_seen):
            # Reached only at or after its due time, a cancel stage cancels her as she enters:
            # no "please do it" email for a step she can no longer do in time.
            assert v.due_at is None or v.entered_at is None or v.entered_at < v.due_at, (e, v)
        if e.kind == "cancellation":
            assert not unseeable(stage, settings.never_seen) or v.outcome == "completed_late", (e, v)
            assert not stage.optional, (e, v)
            if v.outcome == "missed":  # dated at the miss: the due time, or her entry if later
                assert v.entered_at is None or e.at == max(v.due_at, v.entered_at), (e, v)
        if e.kind.startswith("reminder_"):  # never on or after the due time it reminds of
            assert v.due_at is not None and e.at < v.due_at and as_of < v.due_at, (e, v)
    if t.stage is None and t.standing not in ("cancelled",):
        assert t.standing == ("rejected" if t.visits[-1].outcome in ("rejected", "failed") else "done"), t
    if t.standing in ("cancelled", "rejected"):
        # Nothing after the end: a member side by side with the one that ended the journey sends
        # no reminder or opening email dated after that moment.
        ending = t.visits[-1]
        end = (next(e.at for e in t.emails if e.kind == "cancellation") if t.standing == "cancelled"
               else ending.decided_at or ending.completed_at)
        if end is not None and ending.entered_at is not None:
            # A failed row from before the stage fails it as it opens.
            end = max(end, ending.entered_at)
        assert all(e.at is None or end is None or e.at <= end for e in t.emails), t
    return t


@BOUNDED
@given(st.data())
def test_every_night_of_any_journey_keeps_the_engines_promises(data):
    journey = data.draw(journeys())
    facts, unseen = data.draw(histories(journey))
    settings = Settings(SET.deadline_at, SET.reminder_window_start, SET.tz, never_seen=unseen)
    for night in range(NIGHTS + 1):
        check_night(journey, facts, START + dt.timedelta(days=night, hours=20), settings, night)


def _perfect(journey: Journey, reject: str | None = None) -> Facts:
    """A customer who does every step the hour after signing up (a passing score) and is approved
    (or, at ``reject``, rejected) an hour later."""
    signed = at(1)
    evidence = {unit_key(u): (Attempt(signed + dt.timedelta(minutes=30), 80.0),) for s in journey.stages
                if not s.evidence.entered for u in s.evidence.units()}
    approvals = tuple(Approval(s.id, "rejected" if s.id == reject else "approved", signed + dt.timedelta(hours=1), "lena")
                      for s in journey.stages if s.approval_by)
    return Facts(signed, evidence, approvals)


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_a_customer_who_completes_every_stage_ends_done_and_one_rejected_to_end_ends_rejected(journey):
    done = walk(journey, _perfect(journey), at(3), SET)
    assert done.standing == "done" and done.stage is None, done
    assert not [e for e in done.emails if e.kind == "cancellation"]
    for s in journey.stages:
        if s.approval_by and journey.following(s.id).get("rejected") == END and s.id in {v.stage for v in done.visits}:
            out = walk(journey, _perfect(journey, reject=s.id), at(3), SET)
            if s.auto_approve_at is None:
                # (side by side, the rejected member's visit need not be the last one written)
                mine = [v for v in out.visits if v.stage == s.id]
                assert (out.standing, mine[-1].outcome) == ("rejected", "rejected"), out
