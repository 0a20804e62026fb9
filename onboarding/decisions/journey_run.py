"""What a journey other than the seed calls for in one run (``walk_all``), from the loaded facts:
the part of ``decisions.run.decide`` (the one decide path) that walks each customer. In order:

1. **CSM placement**: customers who reached the journey's ``assign_csm`` stage without a CSM are
   placed (``decisions.csm.place``: within capacity, counting each CSM's customers still on their
   journey, sticky); one nobody can take waits, and the instructor is told;
2. **the walk**: each customer's timeline through the journey as of the run's moment
   (``decisions.journey.walk``), from their signup, their event rows, the approvals recorded and
   their CSM;
3. **the emails**: every email the timelines call for, keyed (cohort, customer, stage, kind; a
   second visit after a rejection has its own key), ``due`` unless the ledger has it already, or
   ``expired`` when it became due longer ago than the journey's ``emails_expire_after`` (3 days
   by default: the first night of a cohort already under way sends only what is current);
   escalations are not customer emails: they go into the CSM's or the instructor's digest;
4. **approval requests**: one per stage with customers waiting on a person
   (``decisions.approvals.requests``);
5. **who waits on a person**: approvals, a CSM with room, overdue stages (escalated), open
   queries (steps 15-16: the customer's CSM's, or the team's named by ``queries: {owner: ...}``;
   the instructor's once open too long): the CSMs', the teams' digests and the instructor's summary.

The run's limits (kinds, dry run, real time, resend, suppression, consent) and the guards are
``decisions.run``'s, the same for every journey.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from onboarding.cohorts import Cohort
from onboarding.decisions import IN_FLIGHT_STATES, SENT_STATES
from onboarding.decisions.approvals import Request, requests as approval_requests
from onboarding.decisions.csm import Newcomer, place
from onboarding.decisions.journey import (Approval, Attempt, Facts, Settings, Timeline, approvals_by_customer,
                                          unit_key, unseeable, visit_rows, walk)
from onboarding.decisions.facts import CALLED_COLUMNS, Called, RunAsk, RunFacts, classes_of, ledger_ids
from onboarding.identity import EmailId
from onboarding.languages import languages_of
from onboarding.journeys import Journey, show_duration, staged_attributes
from onboarding.times import from_iso, iso

# Emails a journey calls for that go to a person of the team, not the customer: into digests.
DIGEST_KINDS = ("escalation_csm", "escalation_instructor")


def ledger_kind(stage: str, kind: str) -> str:
    """The ledger's kind of a journey email: ``<stage>:<kind>`` (``details:reminder_1``)."""
    return f"{stage}:{kind}"


def walk_all(cohort: Cohort, journey: Journey, ask: RunAsk, facts: RunFacts) -> Called:
    """What a journey calls for this run (steps 1-3, 6 and 7 of the module's docstring): every
    customer's walk, the CSM placements, the emails the timelines call for, the approval
    requests and who waits on a person."""
    as_of = ask.as_of
    unseen_keys = unseen_evidence(journey, facts.seen_events)
    unseen = [s for s in journey.stages if unseeable(s, unseen_keys)]
    settings = Settings(cohort.deadline_at, cohort.reminder_window_start, cohort.tz, never_seen=unseen_keys)
    customers = facts.customers
    evidence = _evidence(journey, facts.events)
    approvals = approvals_by_customer(facts.approvals)
    assigned = {r["email"]: r for r in facts.assignments}

    def facts_of(email: str, held: bool) -> Facts:
        a = assigned.get(email)
        return Facts(facts.signed_up.get(email), evidence.get(email, {}), approvals.get(email, ()), held,
                     from_iso(str(a["assigned_at"])) if a else None)

    people = list(zip(customers["email"].tolist(), customers["held"].tolist()))
    timelines = {e: walk(journey, facts_of(e, h), as_of, settings) for e, h in people}
    new, waiting_for_csm = _place_csms(journey, facts, timelines, assigned, as_of)
    held_by = dict(people)
    for row in new:  # the customers placed walk on from the CSM stage
        timelines[row["email"]] = walk(journey, facts_of(row["email"], bool(held_by[row["email"]])), as_of, settings)

    names = dict(zip(customers["email"], customers["name"]))
    d = _emails(cohort, journey, facts, timelines, names, as_of)
    waiting = _open_queries(journey, facts.events, as_of, assigned) + _waiting(timelines, assigned)
    asked = approval_requests(journey, cohort.id, {e: (names[e], t) for e, t in timelines.items()}, cohort.tz)
    reqs = _per_approver(journey, cohort, asked, timelines, names, assigned)

    completed = {e: _last_completed(t, journey) for e, t in timelines.items()}
    statuses = pd.DataFrame({"email": customers["email"], "name": customers["name"],
                             "first_name": customers["first_name"] if "first_name" in customers else None,
                             "consent": customers["consent"] if "consent" in customers else None,
                             # The language their emails are written in (its variant when one exists).
                             "language": languages_of(customers["attributes"])
                             if "attributes" in customers else None,
                             "completed_at": pd.to_datetime(customers["email"].map(completed), utc=True),
                             "status": customers["email"].map(lambda e: _status(timelines[e]))})
    counts: dict[str, Any] = {"journey": journey.id, "csm_assigned": len(new), "waiting_for_csm": len(waiting_for_csm),
                              "approval_requests": len(reqs), "awaiting_approval": sum(len(r.people) for r in reqs),
                              "waiting_on_a_person": len(waiting)}
    # A stage waiting on an event no export of the cohort ever carried, with customers in it: the
    # instructor is told (a misspelt name in the journey, or an export that lacks the column).
    stuck_on = [f"{s.id}: event {_unseen_names(s, unseen_keys)}, {n} customer(s) in the stage"
                for s in unseen for n in [sum(t.stage is not None and t.stage in (s.id, s.group)
                                        for t in timelines.values())] if n]
    if stuck_on:
        counts["events_never_seen"] = stuck_on
    return Called(statuses, d, classes_of(cohort, journey), counts,
                  visit_rows(timelines, journey), new, reqs, waiting)


def _place_csms(journey: Journey, facts: RunFacts, timelines: dict[str, Timeline], assigned: dict[str, dict],
                as_of: dt.datetime) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Step 1: the customers who reached the CSM stage without a CSM, placed (``assigned`` gains
    them); returns the new placements and who still waits for a CSM."""
    roster = journey.csms if facts.roster is None else facts.roster
    if not (roster or journey.csms_per_cohort):
        return [], ()
    customers = facts.customers
    # A customer's attributes (their language, from the signup export) for ``csm_match``.
    wants = dict(zip(customers["email"], customers["attributes"])) if "attributes" in customers else {}
    newcomers = [Newcomer(e, t.visits[-1].entered_at or as_of, staged_attributes(wants.get(e)))
                 for e, t in timelines.items() if t.standing == "waiting_for_csm" and e not in assigned]
    # Capacity is customers at once: one who finished, was cancelled or rejected frees the place.
    existing = {e: r["csm_email"] for e, r in assigned.items()
                if e in timelines and timelines[e].standing not in ("done", "cancelled", "rejected")}
    last = facts.assignments[-1]["csm_email"] if facts.assignments else None
    placement = place(roster, existing, newcomers, journey.csm_assignment, journey.csm_match, last)
    names = {c.email: c.name for c in roster}
    new = []
    for email, csm in placement.assigned.items():
        row = {"email": email, "csm_email": csm, "csm_name": names[csm], "assigned_at": iso(as_of)}
        new.append(row)
        assigned[email] = row
    return new, placement.waiting


def _emails(cohort: Cohort, journey: Journey, facts: RunFacts, timelines: dict[str, Timeline],
            names: dict[str, str], as_of: dt.datetime) -> pd.DataFrame:
    """Steps 2-3: every email the timelines call for (``run.CALLED_COLUMNS``), ``due`` unless the
    ledger has it already or it is too old to send; a stage visited again (after a rejection)
    calls for its emails again: the latest visit's stands for the kind this run."""
    due_by_visit = {(e, v.stage, v.number): v.due_at for e, t in timelines.items() for v in t.visits}
    ledger = facts.ledger
    states = dict(zip(ledger_ids(ledger, cohort.id), ledger["status"].tolist())) if len(ledger) else {}
    rows: list[dict[str, Any]] = []
    for email, t in timelines.items():
        for m in t.emails:
            if m.kind in DIGEST_KINDS:
                continue
            key = EmailId.journey(cohort.id, email, m.stage, m.kind, m.visit)
            state = states.get(key)
            taken = state in SENT_STATES + IN_FLIGHT_STATES
            stale = not taken and m.at is not None and as_of - m.at > journey.emails_expire_after
            rows.append({"email": email, "name": names[email], "kind": ledger_kind(m.stage, m.kind),
                         "outcome": "already_sent" if taken else "expired" if stale else "due",
                         "reason": f"{m.reason}" + (f" (ledger: {state})" if taken else "") + (
                             f"; due since {m.at.astimezone(cohort.tz):%Y-%m-%d %H:%M}, more than "
                             f"{show_duration(journey.emails_expire_after)} before this run: too old to send"
                             if stale else ""),
                         "id": key, "due_at": due_by_visit.get((email, m.stage, m.visit))})
    d = pd.DataFrame(rows, columns=list(CALLED_COLUMNS))
    return d.drop_duplicates(subset=["email", "kind"], keep="last").reset_index(drop=True)


def _waiting(timelines: dict[str, Timeline], assigned: dict[str, dict]) -> list[dict[str, Any]]:
    """Step 7: the customers waiting on a person: an approval, a CSM with room, an overdue stage
    escalated to someone (``on_missed: {escalate: ...}``, or a stage whose event no export carries),
    or stuck. Overdue at a stage whose ``on_missed`` is ``nothing`` waits on nobody: the journey
    lets them stay, and no person is asked to act."""
    waiting = []
    for email, t in timelines.items():
        if t.waits_on or t.standing == "stuck":
            # The visit the standing is about (side by side: the member showing it), else the last.
            want = {"awaiting_approval": "awaiting_approval", "overdue": "missed"}.get(t.standing)
            visit = next((v for v in reversed(t.visits) if v.outcome == want), t.visits[-1] if t.visits else None)
            since = (visit.completed_at if t.standing == "awaiting_approval" else
                     visit.due_at if t.standing == "overdue" else visit.entered_at) if visit else None
            waiting.append({"email": email, "item": t.stage or "", "standing": t.standing,
                            "waits_on": t.waits_on or "instructor",
                            "csm_email": assigned.get(email, {}).get("csm_email"), "since": iso(since),
                            "escalated": int(t.standing in ("overdue", "stuck"))})
    return waiting


def unseen_evidence(journey: Journey, seen: frozenset[str] | None) -> frozenset[str]:
    """The evidence keys of the journey's events (a stage's, or a named evidence's) that none of
    ``seen`` is (``decisions.journey.unseeable`` says which stages they hold)."""
    if seen is None:
        return frozenset()
    return frozenset(unit_key(u) for s in journey.stages for u in s.evidence.units()
                     if u.event and u.event_name not in seen)


def _unseen_names(stage, unseen_keys: frozenset[str]) -> str:
    """The stage's events no export carried, as the instructor's summary names them."""
    return ", ".join(repr(u.event_name) for u in stage.evidence.units() if u.event and unit_key(u) in unseen_keys)


def _open_queries(journey: Journey, events: list[dict[str, Any]], as_of: dt.datetime,
                  assigned: dict[str, dict]) -> list[dict[str, Any]]:
    """Queries asked and not answered as of the run's moment (an answer closes the query with the
    same link; without links, answers close the oldest first): each waits on the team that answers
    queries (``queries: {owner: <team>}``), else on the customer's CSM; and on the instructor once
    open longer than ``escalate_after``, or when it has neither owner nor CSM."""
    q = journey.queries
    if q is None:
        return []
    asked: dict[tuple[str, str], list[dt.datetime]] = {}
    answered: dict[tuple[str, str], int] = {}
    for r in events:
        if r["event"] == q.asked:
            asked.setdefault((r["email"], r.get("link") or ""), []).append(from_iso(str(r["at"])))
        elif r["event"] == q.answered:
            answered[(r["email"], r.get("link") or "")] = answered.get((r["email"], r.get("link") or ""), 0) + 1
    out = []
    for (email, link), times in sorted(asked.items()):
        for at in sorted(times)[answered.get((email, link), 0):]:
            csm = assigned.get(email, {}).get("csm_email")
            late = as_of - at > q.escalate_after
            first = q.owner or ("csm" if csm else None)  # who answers it before it escalates
            out.append({"email": email, "item": link or f"query of {iso(at)}", "standing": "open_query",
                        "waits_on": first if first and not late else "instructor", "csm_email": csm,
                        "since": iso(at), "escalated": int(late)})
    return out


def _per_approver(journey: Journey, cohort: Cohort, reqs: list[Request], timelines: dict[str, Timeline],
                  names: dict[str, str], assigned: dict[str, dict]) -> list[Request]:
    """A stage approved by the customer's CSM is asked of each CSM for their own customers (the
    request's ``approver`` is the CSM's address); the instructor's stages, of the instructor; a
    team's, of the team (``approver``: its name), for its members to answer."""
    from dataclasses import replace

    out = []
    for r in reqs:
        team = journey.team(r.approver)
        if team is not None:  # a team's stage: asked of its members (the request is addressed to them)
            out.append(replace(r, subject=f"{r.subject}, for {team.shown}"))
            continue
        if r.approver != "csm":
            out.append(r)
            continue
        by_csm: dict[str | None, list[str]] = {}
        for w in r.people:
            by_csm.setdefault(assigned.get(w.email, {}).get("csm_email"), []).append(w.email)
        for csm, emails in sorted(by_csm.items(), key=lambda x: x[0] or ""):
            (one,) = approval_requests(journey, cohort.id, {e: (names[e], timelines[e]) for e in emails}, cohort.tz)
            who = assigned[emails[0]]["csm_name"] if csm else "the instructor (no CSM yet)"
            out.append(replace(one, approver=csm or "instructor", subject=f"{one.subject}, customers of {who}"))
    return out


def _evidence(journey: Journey, events: list[dict[str, Any]]) -> dict[str, dict[str, tuple[Attempt, ...]]]:
    """Each customer's event rows (the events export's, and the wide export's filled cells) as
    attempts, under the evidence key of every stage that reads them."""
    keys_of: dict[str, list[str]] = {}
    for s in journey.stages:
        for u in s.evidence.units():  # a stage's one evidence, or each of its named ones
            if u.event_name:  # an event, or a column of the wide export (its cells are event rows)
                keys_of.setdefault(u.event_name, []).append(unit_key(u))
    out: dict[str, dict[str, list[Attempt]]] = {}
    for r in events:
        for key in keys_of.get(r["event"], ()):
            value = r.get("value")
            out.setdefault(r["email"], {}).setdefault(key, []).append(
                Attempt(from_iso(str(r["at"])), None if value is None else float(value), r.get("link")))
    return {e: {k: tuple(v) for k, v in m.items()} for e, m in out.items()}


def _status(t: Timeline) -> str:
    """A customer's standing as the reports show it: ``<stage>: <standing>`` while in a stage."""
    return f"{t.stage}: {t.standing}" if t.stage and t.standing != "held" else t.standing


def _last_completed(t: Timeline, journey: Journey) -> dt.datetime | None:
    """Her latest step as its export row or the approver's answer dates it: a stage done on
    entering (the CSM's, done when a night's run placed her) is no step of hers."""
    done = [v.completed_at for v in t.visits
            if v.completed_at is not None and not journey.stage(v.stage).evidence.entered]
    return max(done) if done else None


__all__ = ["Approval", "ledger_kind", "walk_all"]
