"""One customer's way through a journey, as of a moment: which stages they entered and when, what
completed each, which is due or missed, what waits on an approver, and which emails the journey
calls for now. A pure function of the customer's facts (signup, the evidence rows, the approvals
recorded) and the run's moment, so a rerun of the same moment decides the same.

The rules, stage by stage (``onboarding.journeys`` defines the stages):

- The first stage is entered at signup; the next one when the stage before is completed (and
  approved, when it needs an approval).
- A stage is completed by its evidence at or before the moment: the first row for it (on a
  second visit, the first after re-entering); a row from before the stage was entered completes
  it on entering (a passing one first, when several came before). With a score, an attempt
  below the pass mark does not complete it, unless the stage branches on ``failed``: then the
  failure ends the visit, and a second try (the ``failed`` branch back to the stage) counts only
  attempts after the failed one, so the same failure never counts twice. Rows at the same time
  are read best score first, whatever their order in the export.
- Due: a date (the end of that day in the cohort's zone), a duration after signup or after
  entering (whole days on the cohort's calendar, so a change of clocks moves nothing; then
  hours), or the cohort's deadline. Completed at or after due counts as late.
- Missed (not completed by due, or completed late): ``cancel`` ends the journey with a
  cancellation; ``escalate`` tells the CSM or the instructor and the customer stays; ``nothing``
  lets them stay.
- Reminders: each offset before due is one reminder, due once its moment has passed and until
  due (the seed journey: one reminder from the cohort's reminder window).
- An approval: automatic when the score reaches ``auto_if_score_at_least``; otherwise the first
  decision recorded after completion (a second visit: after the decision of the first). Waiting
  for one blocks nothing else. A rejection follows the ``rejected`` branch (a second try: the
  stage is entered again at the rejection) or ends; an approval follows ``approved``, else
  ``passed``, else the stage's plain next.
- How the journey ends: the last stage done (and approved), or a branch to ``end`` after passing
  or an approval: ``done``; a rejection (or a failed attempt) with no branch, or with a branch
  to ``end``: ``rejected``; a cancel stage missed: ``cancelled``; more than ``MAX_VISITS`` visits
  (rejected or failed over and over): ``stuck``, waiting on the instructor.
- Emails on entering a stage are due once it is entered, unless its step was already done at
  entry (evidence from before; a stage done on entering, like the CSM's, still sends its own):
  a customer placed late, or whose rows arrive all at once, gets the emails of the stage they
  stop in, not of every stage passed through. On completing: once it is completed and, when
  it needs an approval, approved (never before: a certificate follows the approval); the seed
  journey's welcome, with ``welcome_timing: after_deadline``, once the deadline passed.
- Named evidences (``all``/``any``): each part's first row that counts (at or before the
  moment; its pass mark, if any; on a second visit, from re-entering); ``all`` is done at the
  last part, ``any`` at the first; every visit carries the parts done as of the moment.
- Optional: undone at its due time (or done only after it), the stage is ``skipped``: no
  cancel, no escalation, no email of it any more; the walk goes on from the due time.
- Side by side (``together``): each member is walked as a stage of its own from the group's
  entry; a member cancelled, rejected for good or stuck ends the journey so; while one is not
  done the customer stands in the group (the most urgent member's standing); when all are, the
  walk goes on from the moment the last was done (approved; skipped: its due time).
- A cancel stage whose event was never seen in any export of the cohort (``Settings.never_seen``:
  a misspelt event name, an export that lacks it) is not cancelled when missed: the customer
  is overdue and waits on the instructor. Unreadable evidence holds the customer (``Facts.held``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from onboarding.journeys import CANCELLATION, END, REMINDER, Evidence, Journey, Stage
from onboarding.times import from_iso

MAX_VISITS = 50  # a customer rejected over and over stops here (and waits on a person)
RULE = "rule"  # who decided an approval made by auto_if_score_at_least


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    value: float | None = None
    link: str | None = None  # where the approver sees the evidence (the submitted form, the quiz)


@dataclass(frozen=True)
class Approval:
    stage: str
    decision: str  # approved | rejected
    at: dt.datetime
    by: str
    reason: str = ""


@dataclass(frozen=True)
class Facts:
    """One customer's inputs as of the run's moment."""

    signed_up_at: dt.datetime | None
    evidence: Mapping[str, tuple[Attempt, ...]] = field(default_factory=dict)  # evidence_key -> attempts
    approvals: tuple[Approval, ...] = ()
    held: bool = False
    csm_assigned_at: dt.datetime | None = None  # when the customer was placed with their CSM


@dataclass(frozen=True)
class Settings:
    """What the seed journey takes from the cohort (other journeys carry their own)."""

    deadline_at: dt.datetime  # the cohort's deadline, grace included
    reminder_window_start: dt.datetime
    tz: dt.tzinfo
    complete_emails_at_due: bool = False  # the seed welcome with welcome_timing: after_deadline
    # Evidence keys whose event no export of the cohort ever carried: a cancel stage waiting on
    # one holds (overdue, on the instructor) instead of cancelling everyone.
    never_seen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Visit:
    """One visit of a stage. ``completed_at`` is when the customer did it, as the export row that
    did it is dated (a failed, late or waiting attempt: that row's time); approved by a person:
    the answer's time; by ``auto_if_score_at_least``: the scored row's; a stage done on entering
    (the CSM's): the entry, or the placement. Never the run's moment for a row's step: a row from
    before the stage opened keeps its time (earlier than ``entered_at``), while the walk goes on
    from the entry, so the emails and due times do not depend on it."""

    stage: str
    number: int  # 1 for the first visit, 2 after a rejection...
    entered_at: dt.datetime | None
    due_at: dt.datetime | None
    completed_at: dt.datetime | None = None
    score: float | None = None
    outcome: str = "in_progress"  # in_progress, overdue, completed, completed_late, missed, awaiting_approval,
    #                               approved, rejected, failed
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    link: str | None = None
    # A stage of named evidences (``all``/``any``): the names the customer has done as of the run
    # (in the journey's order), counted on for "3 of 5"; None for a stage of one evidence.
    evidence_done: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Email:
    stage: str
    kind: str
    visit: int
    reason: str
    at: dt.datetime | None = None  # when it became due (None: not known, no signup time)


@dataclass(frozen=True)
class Timeline:
    visits: tuple[Visit, ...]
    standing: str  # held, in_stage, overdue, awaiting_approval, done, cancelled, rejected, stuck
    stage: str | None  # where the customer is (None when the journey ended)
    emails: tuple[Email, ...]
    waits_on: str | None = None  # instructor or csm, when an approval or an escalation waits on them


def visit_rows(timelines: Mapping[str, Timeline], journey: Journey | None = None) -> list[dict]:
    """Timelines (email -> timeline) as the state database keeps their visits (with each stage's
    place in the journey, for the stage funnel)."""
    from onboarding.times import iso

    order = {s.id: i for i, s in enumerate(journey.stages, 1)} if journey else {}
    return [{"email": email, "stage": v.stage, "visit": v.number, "entered_at": iso(v.entered_at),
             "due_at": iso(v.due_at), "completed_at": iso(v.completed_at), "score": v.score, "outcome": v.outcome,
             "decided_at": iso(v.decided_at), "decided_by": v.decided_by, "link": v.link,
             "stage_order": order.get(v.stage),
             "evidence_done": None if v.evidence_done is None else ", ".join(v.evidence_done),
             "evidence_of": len(journey.stage(v.stage).evidence.parts) if journey and v.evidence_done is not None
             else None}
            for email, t in timelines.items() for v in t.visits]


def approvals_by_customer(rows: list[dict]) -> dict[str, tuple[Approval, ...]]:
    """Recorded decisions (the state database's rows) as each customer's ``Approval`` list."""
    out: dict[str, list[Approval]] = {}
    for r in rows:
        at = from_iso(str(r["decided_at"]))
        out.setdefault(r["email"], []).append(Approval(r["stage"], r["decision"], at, r["decided_by"], r["reason"] or ""))
    return {e: tuple(a) for e, a in out.items()}


def evidence_key(stage: Stage) -> str:
    """Which rows complete a stage: ``<source>:<column>`` or ``<source>:event:<name>``."""
    return unit_key(stage.evidence)


def unit_key(ev: Evidence) -> str:
    """Which rows are one plain evidence (a stage's, or one named evidence of an ``all``/``any``)."""
    return f"{ev.source}:{ev.column}" if ev.column else f"{ev.source}:event:{ev.event}" if ev.event else ""


def unseeable(stage: Stage, never_seen: frozenset[str]) -> bool:
    """Nobody can do the stage because the rows it needs were never in any export: its one event
    never seen; of ``all``, any one never seen; of ``any``, every one never seen."""
    keys = [unit_key(u) for u in stage.evidence.units() if u.event]
    if not keys:
        return False
    unseen = [k in never_seen for k in keys]
    return any(unseen) if stage.evidence.need == "all" else all(unseen)


def walk(journey: Journey, facts: Facts, as_of: dt.datetime, settings: Settings) -> Timeline:
    """The customer's timeline through ``journey`` as of ``as_of``; a visit of a stage of named
    evidences carries which of them the customer has done as of then."""
    t = _walk(journey, facts, as_of, settings)
    if not any(s.evidence.need for s in journey.stages):
        return t
    from dataclasses import replace

    visits = tuple(replace(v, evidence_done=_done_parts(journey.stage(v.stage), facts, v.entered_at, v.number, as_of))
                   if journey.stage(v.stage).evidence.need else v for v in t.visits)
    return replace(t, visits=visits)


_SIGNUP = object()  # a walk that starts at the customer's signup (a group's members start at its entry)
# Of a group's members not yet done, the one whose standing the customer shows: the most urgent.
_URGENCY = ("overdue", "awaiting_approval", "in_stage")


def _walk(journey: Journey, facts: Facts, as_of: dt.datetime, settings: Settings, start=_SIGNUP) -> Timeline:
    if facts.held:
        return Timeline((), "held", journey.stages[0].id, ())
    visits: list[Visit] = []
    emails: list[Email] = []
    counts: dict[str, int] = {}
    # Per evidence key, the last failed attempt: a second try counts only attempts after it.
    failed_at: dict[str, dt.datetime] = {}
    # Per stage, the last decision followed: a second visit waits for a later one.
    decided: dict[str, dt.datetime] = {}
    stage, entered = journey.stages[0], facts.signed_up_at if start is _SIGNUP else start
    while True:
        number = counts[stage.id] = counts.get(stage.id, 0) + 1
        if len(visits) >= MAX_VISITS:
            return Timeline(tuple(visits), "stuck", stage.id, tuple(emails), "instructor")
        if stage.members:
            # Side by side: each member walked as a stage of its own from the group's entry; the
            # customer shows the group as her stage until all are done (the join), then goes on.
            from dataclasses import replace

            parts = [_walk(replace(journey, stages=(journey.stage(m),)), facts, as_of, settings, entered)
                     for m in stage.members]
            # The first member to end it ends it; at the same moment a cancellation wins (the
            # customer is told she is cancelled, whatever the approver said that instant).
            def first_end(walks: list[Timeline]) -> Timeline | None:
                return min((p for p in walks if p.standing in ("cancelled", "rejected", "stuck")),
                           key=lambda p: (_ended_at(p) or as_of, p.standing != "cancelled"), default=None)

            ended = first_end(parts)
            if ended is not None:  # a member's cancel cancels; a rejection with no second try ends it
                # The journey ends there for every member: the others stand as they stood at that
                # moment (no reminder of theirs after a cancellation), and the member that ended it
                # is the last visit, as in a journey one stage at a time.
                # Walked again as of that moment, another member may have ended it earlier (a
                # cancel stage missed at its due time, whose late row came after): the earliest
                # end stands, so walk again until the end no longer moves.
                for _ in stage.members:
                    end = _ended_at(ended)
                    if end is None or end >= as_of:
                        break
                    parts = [p if p is ended else
                             _walk(replace(journey, stages=(journey.stage(m),)), facts, end, settings, entered)
                             for p, m in zip(parts, stage.members)]
                    earlier = first_end(parts)
                    if earlier is ended:
                        break
                    ended = earlier
                others = [p for p in parts if p is not ended]
                visits += [v for p in others for v in p.visits] + list(ended.visits)
                emails += [e for p in others for e in p.emails] + list(ended.emails)
                return Timeline(tuple(visits), ended.standing, stage.id if ended.standing == "stuck" else None,
                                tuple(emails), ended.waits_on)
            visits += [v for p in parts for v in p.visits]
            emails += [e for p in parts for e in p.emails]
            open_ = [p for p in parts if p.standing != "done"]
            if open_:  # a member waiting on an approver blocks no other member, only the join
                lead = min(open_, key=lambda p: _URGENCY.index(p.standing) if p.standing in _URGENCY else len(_URGENCY))
                return Timeline(tuple(visits), lead.standing, stage.id, tuple(emails), lead.waits_on)
            nxt = journey.following(stage.id).get(None)
            if nxt is None or nxt == END:
                return Timeline(tuple(visits), "done", None, tuple(emails))
            stage, entered = journey.stage(nxt), _joined_at(parts)
            continue
        due_at = _due(stage, entered, facts.signed_up_at, settings)
        if stage.assign_csm and (facts.csm_assigned_at is None or facts.csm_assigned_at > as_of):
            # Placed with a CSM by the decide stage (onboarding.decisions.csm); until then the
            # customer waits here, the instructor is told, and the CSM's introduction waits too.
            visits.append(Visit(stage.id, number, entered, due_at, outcome="waiting_for_csm"))
            return Timeline(tuple(visits), "waiting_for_csm", stage.id, tuple(emails), "instructor")
        # The CSM stage's emails go out once the CSM is known: due from the placement, not the entry.
        since = max(entered, facts.csm_assigned_at) if stage.assign_csm and entered is not None else entered
        key = evidence_key(stage)
        retry = bool(visits) and visits[-1].stage == stage.id and visits[-1].outcome == "failed"
        completed, tried, score, failed, link = _completion(stage, facts, entered, number, as_of,
                                                            failed_at.get(key), retry)
        if stage.optional and due_at is not None and as_of >= due_at and (completed is None or completed >= due_at):
            # Offered, not required: undone when due, the stage is skipped (no cancel, no
            # escalation, and no email of it any more: its moment has passed) and the walk goes on
            # from the due time. A row after due is too late to count: the walk had moved on,
            # whatever night it arrived.
            visits.append(Visit(stage.id, number, entered, due_at, outcome="skipped"))
            nxt = journey.following(stage.id).get(None)
            if nxt is None or nxt == END:
                return Timeline(tuple(visits), "done", None, tuple(emails))
            stage, entered = journey.stage(nxt), due_at
            continue
        # A step already done when the stage opens needs no "please do it" email.
        done_at_entry = (completed is not None and entered is not None and completed <= entered
                         and not stage.evidence.entered)
        # A stage that cancels on a miss, entered at or after its due time, cancels her as she
        # enters it: no "please do it" email for a step she can no longer do in time.
        cancels_at_entry = (stage.on_missed == "cancel" and due_at is not None and entered is not None
                            and entered >= due_at and not unseeable(stage, settings.never_seen))
        if not done_at_entry and not cancels_at_entry:
            emails += [Email(stage.id, kind, number, f"entered {stage.title}", since) for kind in stage.emails_on_enter]
        if completed is None:
            return _not_done(journey, stage, number, entered, due_at, as_of, settings, visits, emails)
        late = due_at is not None and completed >= due_at
        # A visit is recorded as done when its export row says (``tried``), not when the walk
        # let the stage open: a step done before it opened keeps its own time (see ``Visit``).
        if failed:
            visits.append(Visit(stage.id, number, entered, due_at, tried, score, "failed", link=link))
            failed_at[key] = tried
            nxt = journey.following(stage.id).get("failed")
        elif late and stage.on_missed == "cancel":
            visits.append(Visit(stage.id, number, entered, due_at, tried, score, "completed_late"))
            emails.append(Email(stage.id, CANCELLATION, number,
                                f"completed after the due time ({_local(completed, settings)})", completed))
            return Timeline(tuple(visits), "cancelled", None, tuple(emails))
        else:
            decision = _approval(stage, facts, completed, score, as_of, decided.get(stage.id))
            if decision is None:
                visits.append(Visit(stage.id, number, entered, due_at, tried, score, "awaiting_approval",
                                    link=link))
                return Timeline(tuple(visits), "awaiting_approval", stage.id, tuple(emails), stage.approval_by)
            branches = journey.following(stage.id)
            passed = _after_passing(stage, branches)
            if decision is True:
                visits.append(Visit(stage.id, number, entered, due_at, tried, score,
                                    "completed_late" if late else "completed", link=link))
                nxt = passed
                approved_at = completed
            else:
                verdict, at, by = decision
                decided[stage.id] = at
                answered = tried if by == RULE else at  # the rule answers as the score arrives
                visits.append(Visit(stage.id, number, entered, due_at, answered if verdict == "approved" else tried,
                                    score, verdict, answered, by, link))
                nxt = branches.get(verdict) or (passed if verdict == "approved" else None)
                approved_at = at if verdict == "approved" else None
                completed = at
            if approved_at is not None:
                emails += _completing_emails(stage, number, late, approved_at, due_at, as_of, settings)
        if nxt is None or nxt == END:
            # The journey ends here: finished, unless it ends on a rejection or a failed attempt.
            return Timeline(tuple(visits), "rejected" if visits[-1].outcome in ("rejected", "failed") else "done",
                            None, tuple(emails))
        stage, entered = journey.stage(nxt), completed


def _joined_at(parts: list[Timeline]) -> dt.datetime | None:
    """When the last member of a group was done, as the walk moves on from each: its approval, its
    completion (not before it was entered), or, skipped, its due time."""
    moments = []
    for p in parts:
        v = p.visits[-1]
        done = v.due_at if v.outcome == "skipped" else v.decided_at if v.outcome == "approved" else v.completed_at
        moments += [m for m in (done, v.entered_at) if m is not None]
    return max(moments) if moments else None


def _ended_at(t: Timeline) -> dt.datetime | None:
    """When a member's walk ended the journey: its cancellation's moment, or the rejection (or
    failed attempt) it ends on; None when it has no moment (stuck)."""
    if t.standing == "cancelled":
        return next((e.at for e in reversed(t.emails) if e.kind == CANCELLATION), None)
    if t.standing == "rejected" and t.visits:
        last = t.visits[-1]
        # A failed row from before the stage opened fails it as it opens, not before.
        moment = last.decided_at or last.completed_at
        return max(moment, last.entered_at) if moment and last.entered_at else moment
    return None


def _after_passing(stage: Stage, branches: dict[str | None, str]) -> str | None:
    """Where a stage done (and approved) leads: a scored stage's ``passed`` branch, else its plain next."""
    return branches.get("passed", branches.get(None)) if stage.evidence.pass_mark is not None else branches.get(None)


def _completing_emails(stage: Stage, number: int, late: bool, approved_at: dt.datetime, due_at, as_of,
                       settings: Settings) -> list[Email]:
    """The emails on completing a stage, once it is done and, when it needs one, approved; the
    seed journey's welcome with ``welcome_timing: after_deadline`` waits for the deadline."""
    at_due = settings.complete_emails_at_due and stage.due is not None and stage.due.cohort_deadline
    if at_due and as_of < due_at:
        return []
    at = max(approved_at, due_at) if settings.complete_emails_at_due and due_at else approved_at
    return [Email(stage.id, kind, number, "completed on time" if not late else "completed", at)
            for kind in stage.emails_on_complete]


def _not_done(journey: Journey, stage: Stage, number: int, entered, due_at, as_of, settings: Settings,
              visits: list[Visit], emails: list[Email]) -> Timeline:
    if due_at is not None and as_of >= due_at:
        visits.append(Visit(stage.id, number, entered, due_at, outcome="missed"))
        if stage.on_missed == "cancel" and unseeable(stage, settings.never_seen):
            # Nobody's export ever carried the event (a misspelt name, a missing export): the
            # stage cannot tell who did it, so nobody is cancelled; the instructor is told.
            return Timeline(tuple(visits), "overdue", stage.id, tuple(emails), "instructor")
        if stage.on_missed == "cancel":
            # Dated when the miss happened to her: the due time, or her entry when she reached
            # the stage only after it (nothing of hers may be dated after her journey's end).
            at = max(due_at, entered) if entered is not None else due_at
            emails.append(Email(stage.id, CANCELLATION, number, "not completed by the due time", at))
            return Timeline(tuple(visits), "cancelled", None, tuple(emails))
        waits = stage.on_missed.split(":", 1)[1] if stage.on_missed.startswith("escalate:") else None
        if waits:
            emails.append(Email(stage.id, f"escalation_{waits}", number, "not completed by the due time", due_at))
        return Timeline(tuple(visits), "overdue", stage.id, tuple(emails), waits)
    visits.append(Visit(stage.id, number, entered, due_at))
    if stage.reminders is None:  # the seed journey: one reminder, from the cohort's window
        if as_of >= settings.reminder_window_start:
            emails.append(Email(stage.id, REMINDER, number,
                                f"not complete; reminder window opened {_local(settings.reminder_window_start, settings)}",
                                settings.reminder_window_start))
    elif due_at is not None:
        for i, offset in enumerate(sorted(stage.reminders, reverse=True), 1):
            if as_of >= due_at - offset:
                emails.append(Email(stage.id, f"{REMINDER}_{i}", number, f"due {_local(due_at, settings)}",
                                    due_at - offset))
    return Timeline(tuple(visits), "in_stage", stage.id, tuple(emails))


def _due(stage: Stage, entered, signed_up, settings: Settings) -> dt.datetime | None:
    due = stage.due
    if due is None:
        return None
    if due.cohort_deadline:
        return settings.deadline_at
    if due.date is not None:
        return dt.datetime.combine(due.date + dt.timedelta(days=1), dt.time(0), settings.tz)
    start = entered if due.after == "entered" else signed_up
    # Without a known start (no signup time) a relative due time cannot be placed: nothing is due.
    return None if start is None else after(start, due.duration, settings.tz)


def after(start: dt.datetime, duration: dt.timedelta, tz: dt.tzinfo) -> dt.datetime:
    """``start`` plus a duration as people count it: whole days on the calendar of the cohort's
    zone (entered 10:00 the day before clocks change, due 10:00 three days on), then hours."""
    local = start.astimezone(tz)
    days = dt.datetime.combine(local.date() + dt.timedelta(days=duration.days), local.timetz().replace(tzinfo=None))
    landed = days.replace(tzinfo=tz)
    return (landed.astimezone(dt.timezone.utc) + dt.timedelta(seconds=duration.seconds)).astimezone(tz)


def _completion(stage: Stage, facts: Facts, entered, number: int, as_of, failed_at: dt.datetime | None = None,
                retry: bool = False):
    """(completed at, the attempt's own time, score, failed, link) from the stage's evidence;
    all None (failed False) when not yet. ``failed_at``: the last failed attempt of this evidence,
    only later ones count; ``retry``: this visit is the second try after that failure (an
    attempt between the failure and re-entering counts, completing the stage on entering)."""
    if stage.evidence.need:
        return _named_completion(stage, facts, entered, number, as_of)
    if stage.evidence.entered:
        start = entered if entered is not None else as_of
        if stage.assign_csm and facts.csm_assigned_at is not None:
            start = max(start, facts.csm_assigned_at)
        return start, start, None, False, None
    # Best score first among rows at the same time, whatever order the export gave them in.
    attempts = sorted((a for a in facts.evidence.get(evidence_key(stage), ()) if a.at <= as_of
                       and (failed_at is None or a.at > failed_at)
                       and (number == 1 or retry or entered is None or a.at >= entered)),
                      key=lambda a: (a.at, -(a.value if a.value is not None else float("-inf"))))
    mark = stage.evidence.pass_mark
    branches_on_fail = "failed" in {b.condition for b in stage.next}

    def passes(a: Attempt) -> bool:
        return mark is None or (a.value is not None and a.value >= mark)

    if entered is not None:
        # Done before the stage opened (the quiz taken while the details waited for approval):
        # the stage is done the moment it is entered, by a passing attempt if one came before.
        before = [a for a in attempts if a.at < entered]
        good = [a for a in before if passes(a)]
        if good:
            return entered, good[0].at, good[0].value, False, good[0].link
        if before and branches_on_fail:
            return entered, before[-1].at, before[-1].value, True, before[-1].link
        attempts = [a for a in attempts if a.at >= entered]
    for a in attempts:
        if passes(a):
            return a.at, a.at, a.value, False, a.link
        if branches_on_fail:
            return a.at, a.at, a.value, True, a.link
    return None, None, None, False, None


def _part_first(part: Evidence, facts: Facts, entered, number: int, as_of) -> Attempt | None:
    """The first row of one named evidence that counts for this visit: at or before the moment,
    passing its mark if it has one; on a second visit, from re-entering on."""
    rows = [a for a in facts.evidence.get(unit_key(part), ()) if a.at <= as_of
            and (number == 1 or entered is None or a.at >= entered)
            and (part.pass_mark is None or (a.value is not None and a.value >= part.pass_mark))]
    return min(rows, key=lambda a: (a.at, a.link or "")) if rows else None


def _done_parts(stage: Stage, facts: Facts, entered, number: int, as_of) -> tuple[str, ...]:
    """The named evidences of the stage done in this visit as of the moment, in the journey's order."""
    return tuple(p.name for p in stage.evidence.parts if _part_first(p.evidence, facts, entered, number, as_of))


def _named_completion(stage: Stage, facts: Facts, entered, number: int, as_of):
    """``all``: done at the last named evidence needed; ``any``: at the first. Rows from before
    the stage opened complete it on entering, as a plain evidence's do."""
    firsts = [a for p in stage.evidence.parts for a in [_part_first(p.evidence, facts, entered, number, as_of)]]
    got = [a for a in firsts if a is not None]
    if not got or (stage.evidence.need == "all" and len(got) < len(firsts)):
        return None, None, None, False, None
    deciding = max(got, key=lambda a: a.at) if stage.evidence.need == "all" else min(got, key=lambda a: a.at)
    completed = deciding.at if entered is None else max(deciding.at, entered)
    return completed, deciding.at, None, False, deciding.link


def _approval(stage: Stage, facts: Facts, completed, score, as_of, after: dt.datetime | None = None):
    """True (no approval needed, or automatic), (verdict, at, by), or None while waiting. A
    decision at or before ``after`` (the one a previous visit followed) is not this visit's."""
    if stage.approval_by is None:
        return True
    if stage.auto_approve_at is not None and score is not None and score >= stage.auto_approve_at:
        return "approved", completed, RULE
    for a in sorted(facts.approvals, key=lambda a: (a.at, a.decision)):
        if a.stage == stage.id and completed <= a.at <= as_of and a.decision in ("approved", "rejected") \
                and (after is None or a.at > after):
            return a.decision, a.at, a.by
    return None


def _local(moment: dt.datetime, settings: Settings) -> str:
    return f"{moment.astimezone(settings.tz):%Y-%m-%d %H:%M %Z}"
