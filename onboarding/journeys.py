"""Journeys: the stages a customer goes through, defined in YAML and checked when read.

The file's shape is the typed model ``JourneysDocument`` (a journey ``JourneySpec``, a stage
``StageSpec``...), published as ``schemas/journey.schema.json``; what ties its parts together (a
branch to a known stage, a roster for a CSM stage, reminders before due, no cycle) is checked
after, on the typed specs, and both give the engine the frozen ``Journey`` below.

A cohort names its journey (``journey:``; default ``seed``, the built-in one-stage journey that is
the original process: complete onboarding by the deadline, reminded before it, cancelled when
missed, welcomed when done). Other journeys live in the file the cohort file names
(``journeys: journeys.yaml``, relative to it)::

    journeys:
      saas-onboarding:
        title: New account onboarding
        stages:
          - id: verification
            emails_on_enter: [verification]
            evidence: {event: email_verified}          # a row of the long events export
            due: {after: entered, duration: 3d}
            reminders: [2d, 1d]                        # before due
            on_missed: cancel
          - id: details
            evidence: {event: details_submitted}
            due: {after: entered, duration: 7d}
            approval: {by: instructor}
            next: [{if: approved, to: csm}, {if: rejected, to: details}]

Per stage: the **evidence** that completes it (``column``: a timestamp column of a wide export;
``event``: an event name in a long ``email, event, at, value`` export (a cohort may read both, a
wide ``completions`` export mapping each ``column`` to its header); ``entered: true``: done on
entering, for a stage the pipeline itself performs; an optional ``score`` with a ``pass_mark``),
when it is **due** (``date``; ``after: signup | entered`` with a ``duration``; or ``deadline:
cohort``), its **reminders** (durations before due), what happens when it is **missed**
(``cancel``, ``nothing``, or ``{escalate: csm | instructor}``), the emails sent on entering and on
completing it, whether it needs an **approval** (``by: instructor | csm``, optionally
``auto_if_score_at_least``), and where it leads (``next``: a stage, ``end``, or branches on
``approved``, ``rejected``, ``passed``, ``failed``); ``assign_csm: true`` on the stage where a
customer is placed with a CSM (its evidence ``entered: true``: done once they have one; its
``emails_on_enter`` go out once the CSM is known, in the CSM's name). Every problem names the file, the journey, the
stage and the key: an unknown key, a branch to an unknown stage, a cycle (a branch back to an
earlier stage is allowed only on ``rejected`` or ``failed``: a second try, not a loop), a
reminder at or after the due time.

Three more shapes (docs/journeys/shapes.md): an evidence of several **named evidences**,
``{all: [...]}`` (done at the last) or ``{any: [...]}`` (done at the first), each ``{name, event |
column, score?}``; an **optional** stage (``optional: true``: needs ``due``, refuses ``on_missed``
other than ``nothing``; undone when due it is skipped and the walk goes on by its plain ``next``);
and stages **side by side**, ``together: [<member stages>]``, entered at once, the journey going
on by the group's ``next`` when every member is done (a member's ``next`` may only be a second
try). Members are stages of the journey (``Journey.stages`` lists a group, then its members).

**Teams and owners** (docs/journeys/teams.md): ``teams:`` names the journey's teams, each its
members' addresses (or one address) and the cadence of its digest (``digest: daily`` or
``weekly:mon``); a stage names its ``owner`` (a team, or ``instructor``; a member without one is
its group's) and an approval may be ``by:`` a team. A **handoff** is a branch from one owner's
stage to another owner's (``Journey.handoffs``).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationError, model_validator

from onboarding.configmodel import ID_PATTERN, TAG, Date, FileModel, Number, Text, choice, config_error, number, \
    one_line, typed, whole
from onboarding.errors import ConfigError

SEED_ID = "seed"
# The two kinds of email the engine names itself (every other kind is named by its stage's
# ``emails_on_enter`` / ``emails_on_complete``): a stage's cancellation when it is missed with
# ``on_missed: cancel``, and the seed journey's one reminder from the cohort's reminder window
# (other journeys' reminders are ``reminder_1``, ``reminder_2``... before due).
CANCELLATION = "cancellation"
REMINDER = "reminder"
# What an email does in its stage, whatever its kind's name: which default template it falls back
# on, which of the trigger form's kinds it is, the seed's reason for sending it.
ENTER, COMPLETE = "enter", "complete"
DEFAULT_EXPIRY = dt.timedelta(days=3)
CSM_METHODS = ("least_loaded", "round_robin")
APPROVERS = ("instructor", "csm")
# A team's digest goes out every nightly run (``daily``) or on the runs of one weekday (``weekly:mon``).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CADENCES = ("daily", *(f"weekly:{d}" for d in WEEKDAYS))
MAX_TEAMS, MAX_TEAM_MEMBERS = 20, 50
BRANCH_CONDITIONS = ("approved", "rejected", "passed", "failed")
RETRY_CONDITIONS = ("rejected", "failed")  # a branch back to an earlier stage: a second try
END = "end"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_DURATION = re.compile(r"(\d{1,5})([wdhm])")
_UNITS = {"w": dt.timedelta(weeks=1), "d": dt.timedelta(days=1), "h": dt.timedelta(hours=1),
          "m": dt.timedelta(minutes=1)}
MAX_STAGES = 100


@dataclass(frozen=True)
class Evidence:
    """What completes a stage."""

    column: str | None = None  # a timestamp column of a wide export
    event: str | None = None  # an event name in a long export
    entered: bool = False  # done on entering (a step the pipeline performs itself)
    source: str | None = None  # the export's role (default: completions for a column, events for an event)
    pass_mark: float | None = None  # a score the event's value must reach
    # Named evidences: done at the last one needed (``all``) or the first (``any``).
    need: str | None = None  # all | any; None: one plain evidence (the fields above)
    parts: tuple[Part, ...] = ()

    def units(self) -> tuple[Evidence, ...]:
        """The plain evidences it is made of: itself, or each named part's."""
        return tuple(p.evidence for p in self.parts) if self.need else (self,)

    @property
    def event_name(self) -> str | None:
        """The event rows that are this evidence: its event's name, or for a column of the wide
        export the rows its cells become (``completions/<column>``: '/' is never in an event
        name of the events export, so the two never mix)."""
        return self.event.lower() if self.event else column_event(self.column) if self.column else None


@dataclass(frozen=True)
class Part:
    """One named evidence of an ``all``/``any`` stage (a tool connected: ``calendar``)."""

    name: str
    evidence: Evidence


def column_event(column: str) -> str:
    """The event a filled cell of the wide export's ``column`` stands for."""
    return f"completions/{column}"


@dataclass(frozen=True)
class Due:
    """When a stage is due: a date, a duration after signup or after entering, or the cohort's deadline."""

    date: dt.date | None = None
    after: str | None = None  # signup | entered
    duration: dt.timedelta | None = None
    cohort_deadline: bool = False


@dataclass(frozen=True)
class Branch:
    condition: str | None  # None: always
    to: str  # a stage id or 'end'


@dataclass(frozen=True)
class Stage:
    id: str
    title: str
    evidence: Evidence
    due: Due | None = None
    # Before due. None: the cohort's own ``reminder_days_before`` (the seed journey).
    reminders: tuple[dt.timedelta, ...] | None = ()
    on_missed: str = "nothing"  # cancel | nothing | escalate:csm | escalate:instructor
    emails_on_enter: tuple[str, ...] = ()
    emails_on_complete: tuple[str, ...] = ()
    approval_by: str | None = None
    auto_approve_at: float | None = None
    next: tuple[Branch, ...] = ()
    assign_csm: bool = False  # entering it places the customer with a CSM; done once they have one
    # Offered, not required: undone when due, it is skipped (no cancel, no escalation) and the
    # walk goes on by its plain ``next``.
    optional: bool = False
    # Side by side: a ``together`` stage names its members (stages of the journey, each with its
    # own evidence, due time, emails and approval), entered at once; it is done when all of them
    # are (the join) and leads on by its ``next``. A member names its group.
    members: tuple[str, ...] = ()
    group: str | None = None
    # The team that owns the stage (a name of ``Journey.teams``, or ``instructor``); None: nobody
    # named. Moving from one owner's stage to another owner's is a handoff.
    owner: str | None = None

    def kinds(self) -> tuple[str, ...]:
        """Every email the stage may send, in the order a customer meets them: on entering, its
        reminders (the seed's one: ``reminder``), its cancellation, on completing."""
        reminders = (REMINDER,) if self.reminders is None else tuple(
            f"{REMINDER}_{i}" for i in range(1, len(self.reminders) + 1))
        return (*self.emails_on_enter, *reminders, *((CANCELLATION,) if self.on_missed == "cancel" else ()),
                *self.emails_on_complete)

    def role(self, kind: str) -> str | None:
        """What an email of the stage does (``ENTER``, ``COMPLETE``, ``REMINDER``, ``CANCELLATION``);
        None when the stage sends no such email."""
        if kind in self.emails_on_enter:
            return ENTER
        if kind in self.emails_on_complete:
            return COMPLETE
        if kind == CANCELLATION or kind.startswith(REMINDER):
            return REMINDER if kind.startswith(REMINDER) else CANCELLATION
        return None


@dataclass(frozen=True)
class Csm:
    """A customer success manager of a journey's roster."""

    name: str
    email: str
    capacity: int  # customers at once
    attributes: tuple[tuple[str, str], ...] = ()  # language, time zone...

    def attribute(self, key: str) -> str | None:
        return dict(self.attributes).get(key)


def staged_attributes(text: Any) -> tuple[tuple[str, str], ...]:
    """Attributes as the state database keeps them (a customer's from the signup export, a CSM's
    from a roster export: JSON text, or nothing), in ``Csm.attributes``' shape."""
    import json

    return tuple(sorted(json.loads(text).items())) if isinstance(text, str) and text else ()


@dataclass(frozen=True)
class Team:
    """A team of the journey (support, customer success...): who is in it and how often it hears of
    what waits on it. It may own stages and approve them."""

    name: str
    title: str | None
    addresses: tuple[str, ...]
    cadence: str = "daily"  # daily | weekly:<mon..sun>

    @property
    def shown(self) -> str:
        """The team as people read it: its title, or its name."""
        return self.title or self.name

    def digest_due(self, local_day: dt.date) -> bool:
        """Whether a run on that (the cohort's local) day sends the team's digest."""
        return self.cadence == "daily" or WEEKDAYS[local_day.weekday()] == self.cadence.split(":", 1)[1]


@dataclass(frozen=True)
class Handoff:
    """The move from one owner's stage to the next stage, owned by another."""

    from_stage: str
    to_stage: str
    from_owner: str
    to_owner: str


@dataclass(frozen=True)
class Queries:
    """A customer's questions (steps 15 and 16): an ``asked`` event opens one, an ``answered``
    event with the same link (the ticket) closes it; open ones go to the customer's CSM's digest
    (or, with an ``owner``, to that team's), and to the instructor once open longer than
    ``escalate_after``."""

    asked: str
    answered: str
    escalate_after: dt.timedelta
    owner: str | None = None  # a team of the journey that answers queries (None: the customer's CSM)


@dataclass(frozen=True)
class Journey:
    id: str
    title: str
    stages: tuple[Stage, ...]
    source: str = "built in"  # the file it came from
    csms: tuple[Csm, ...] = ()
    csm_assignment: str = "least_loaded"
    csm_match: tuple[str, ...] = ()  # attributes a customer's CSM must share with them
    # An email not sent within this long of becoming due is not sent at all: a journey started on
    # a cohort already weeks in must not send "verify your address" to people who did long ago.
    emails_expire_after: dt.timedelta = DEFAULT_EXPIRY
    queries: Queries | None = None
    # ``csms: per_cohort``: each cohort gives its roster as a ``csms`` export (name, email,
    # capacity, attribute columns), read with the cohort's other exports every night.
    csms_per_cohort: bool = False
    teams: tuple[Team, ...] = ()
    # Which definition this is (the effect of a change): ``digest``, a hash of the journey's
    # definition as read (canonical: the same for the same stages however the YAML is spaced,
    # ordered or commented), and ``version``, the file's ``version:`` label or the short hash.
    digest: str = ""
    version: str = ""

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def owner_title(self, owner: str | None) -> str:
        """An owner as people read it: a team's title, or 'the instructor'."""
        team = self.team(owner) if owner else None
        return team.shown if team else "the instructor" if owner == "instructor" else (owner or "")

    def handoffs(self) -> tuple[Handoff, ...]:
        """Every move, along a branch, from a stage with an owner to one with another owner (a
        group's members hand over with their group)."""
        out: list[Handoff] = []
        for s in self.stages:
            for b in s.next:
                if b.to == END or s.owner is None:
                    continue
                nxt = self.stage(b.to)
                if nxt.owner is not None and nxt.owner != s.owner and \
                        not any(h.from_stage == s.id and h.to_stage == nxt.id for h in out):
                    out.append(Handoff(s.id, nxt.id, s.owner, nxt.owner))
        return tuple(out)

    @property
    def is_seed(self) -> bool:
        """The built-in seed journey, the course cohort's (one stage: reminder, cancellation,
        welcome): the one property every "is this the seed?" asks."""
        return self.id == SEED_ID

    def stage(self, stage_id: str) -> Stage:
        return next(s for s in self.stages if s.id == stage_id)

    def email_kinds(self) -> tuple[tuple[Stage, str], ...]:
        """Every email the journey may send, per stage and kind (``Stage.kinds``), stage by stage."""
        return tuple((s, k) for s in self.stages for k in s.kinds())

    def ledger_kind(self, stage: Stage, kind: str) -> str:
        """The ledger's name of a stage's email: ``<stage>:<kind>``; the seed's name no stage (it has one)."""
        return kind if self.is_seed else f"{stage.id}:{kind}"

    def ledger_kinds(self) -> tuple[str, ...]:
        """Every email the journey may send, by its ledger name, in ``email_kinds``' order: the
        seed's are its status tab's email columns and its trigger form's resend choices."""
        return tuple(self.ledger_kind(s, k) for s, k in self.email_kinds())

    def kinds_by_role(self, role: str) -> tuple[str, ...]:
        """The ledger names of its emails that do ``role`` (``COMPLETE``: the seed's welcome)."""
        return tuple(self.ledger_kind(s, k) for s, k in self.email_kinds() if s.role(k) == role)

    def following(self, stage_id: str) -> dict[str | None, str]:
        """Where a stage leads, by condition (None: unconditionally)."""
        return {b.condition: b.to for b in self.stage(stage_id).next}


# The original process as a journey: one stage, completed by the completion export's timestamp,
# due at the cohort's deadline (plus its grace period), reminded from ``reminder_days_before``,
# a cancellation when missed and a welcome when done (when: the cohort's ``welcome_timing``).
SEED = Journey(SEED_ID, "Complete onboarding by the deadline", (
    Stage("onboarding", "Onboarding", Evidence(column="completed_at", source="completions"),
          Due(cohort_deadline=True), reminders=None, on_missed="cancel", emails_on_complete=("welcome",),
          next=(Branch(None, END),)),
), version="built in")


def _attribute(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not an attribute name (lower-case letters, digits, '_')")
    return value


def _stages(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of at least one stage")
    if len(value) > MAX_STAGES:
        raise ValueError(f"{len(value)} stages; a journey has at most {MAX_STAGES}")
    return value


def _journey_duration(raw: Any) -> dt.timedelta:
    """'3d', '36h', '2w', '90m' or '1d12h'."""
    text = str(raw).strip().lower() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"{raw!r} is not a duration (like 3d, 36h, 2w or 1d12h)")
    total = sum((int(n) * _UNITS[u] for n, u in parts), dt.timedelta(0))
    if total <= dt.timedelta(0) or total > dt.timedelta(days=3660):
        raise ValueError(f"{raw!r}: a duration is more than zero and at most ten years")
    return total


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a name, got {value!r}")
    return value


def _kind(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not an email kind (lower-case letters, digits, '-', '_')")
    return value


def _field_name(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or value in ("email", "name"):
        raise ValueError(f"{value!r} is not a field name (lower-case letters, digits, '_'): name the field, and map "
                         f"it to the export's header in the cohort's 'completions' source")
    return value


def _stage_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or value == END:
        raise ValueError(f"expected an id (lower-case letters, digits, '-', '_'; not 'end'), got {value!r}")
    return value


def _on_missed(value: Any) -> str:
    if value in ("cancel", "nothing"):
        return value
    if isinstance(value, dict) and set(value) == {"escalate"} and value["escalate"] in APPROVERS:
        return f"escalate:{value['escalate']}"
    raise ValueError(f"expected 'cancel', 'nothing' or {{escalate: csm | instructor}}, got {value!r}")


def _attributes(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) and not isinstance(v, bool)
                                              for k, v in value.items()):
        raise ValueError("expected a mapping of names to values (language: de)")
    return tuple(sorted((k, str(v)) for k, v in value.items()))


def _csm_name(value: Any) -> str:
    name = " ".join(str(value).split()) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not name or len(name) > 200:
        raise ValueError("expected the CSM's name (the introduction email is sent in it)")
    return name


def _csm_email(value: Any) -> str:
    from onboarding.addresses import is_plain_address, normalised

    email = normalised(value) if isinstance(value, str) else ""
    if not is_plain_address(email):
        raise ValueError(f"{value!r} is not one email address")
    return email


def _event(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an event name")
    return value.strip().lower()


Duration = typed(dt.timedelta, _journey_duration, {"type": "string", "pattern": r"^(\d{1,5}[wdhm])+$",
                                                    "$comment": "duration (like 3d, 36h, 2w or 1d12h)"})
Name = typed(str, _name, {"type": "string", "minLength": 1})
Kind = typed(str, _kind, {"type": "string", "pattern": ID_PATTERN})
StageId = typed(str, _stage_id, {"type": "string", "pattern": ID_PATTERN, "not": {"const": END}})
Event = typed(str, _event, {"type": "string", "minLength": 1})


def _score(value: Any) -> float:
    """``{pass_mark: <number>}``: the score the event's value must reach."""
    try:
        if isinstance(value, dict) and set(value) == {"pass_mark"}:
            return number(value["pass_mark"])
    except ValueError:
        pass
    raise ValueError("expected {pass_mark: <number>}")


Score = typed(float, _score, {"type": "object", "properties": {"pass_mark": {"type": "number"}},
                              "required": ["pass_mark"], "additionalProperties": False})


MAX_PARTS = 20


def _part_name(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a name (lower-case letters, digits, '-', '_'; like calendar)")
    return value


class PartSpec(FileModel):
    """One named evidence of ``all:`` / ``any:``: its name and a ``column`` or an ``event``."""

    name: typed(str, _part_name, {"type": "string", "pattern": ID_PATTERN})
    """Shown per customer ("3 of 5: calendar, notes, chat")."""
    column: typed(str, _field_name, {"type": "string", "pattern": ID_PATTERN}) | None = None
    """A timestamp field of the wide `completions` export."""
    event: Name | None = None
    """An event name of the long `events` export."""
    score: Score | None = None
    """`{pass_mark: N}`: only an event whose value reaches it counts."""

    SHAPE: ClassVar[str] = "expected {name: <name>, event: <event>} or {name: <name>, column: <field>}"

    @model_validator(mode="after")
    def _one_kind(self) -> PartSpec:
        if (self.column is None) == (self.event is None):
            raise ValueError(f"{self.name}: name exactly one of 'column' or 'event'")
        if self.score is not None and self.event is None:
            raise ValueError(f"{self.name}: score: a score is the value of an event; name the 'event'")
        return self


def _parts(value: Any) -> Any:
    if not isinstance(value, list) or len(value) < 2:
        raise ValueError("expected a list of at least two named evidences ({name: ..., event: ...})")
    if len(value) > MAX_PARTS:
        raise ValueError(f"{len(value)} named evidences; at most {MAX_PARTS}")
    return value


Parts = Annotated[list[PartSpec], BeforeValidator(_parts, json_schema_input_type=list[PartSpec]),
                  Field(min_length=2, max_length=MAX_PARTS)]


class EvidenceSpec(FileModel):
    """What completes a stage: exactly one of a ``column`` of the wide export, an ``event`` of the
    long one, ``entered: true``, or several named evidences: ``all:`` of them (done at the last)
    or ``any:`` of them (done at the first)."""

    column: typed(str, _field_name, {"type": "string", "pattern": ID_PATTERN}) | None = None
    """A timestamp field of the wide `completions` export (mapped to its header by the cohort)."""
    event: Name | None = None
    """An event name of the long `events` export."""
    entered: Literal[True] | None = None
    """Done on entering: a step the pipeline performs."""
    source: Name | None = None
    """The export it is read from (only what the kind implies)."""
    score: Score | None = None
    """`{pass_mark: N}`: the event's value must reach it."""
    all_: Parts | None = Field(None, alias="all")
    """Named evidences, every one needed: done at the last."""
    any_: Parts | None = Field(None, alias="any")
    """Named evidences, one is enough: done at the first (the others still counted)."""

    SHAPE: ClassVar[str] = "expected one of {column: ...}, {event: ...}, {entered: true}, {all: [...]} or {any: [...]}"

    @model_validator(mode="after")
    def _one_kind(self) -> EvidenceSpec:
        kinds = [k for k in ("column", "event", "entered", "all_", "any_") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"name exactly one of 'column', 'event', 'entered', 'all' or 'any' "
                             f"(got {[k.rstrip('_') for k in kinds] or 'none'})")
        parts = self.all_ or self.any_
        if parts is not None:
            if self.source is not None or self.score is not None:
                raise ValueError(f"{'source' if self.source is not None else 'score'}: give it on each named evidence "
                                 f"of '{kinds[0].rstrip('_')}', not on the stage's evidence")
            names = [p.name for p in parts]
            twice = next((n for n in names if names.count(n) > 1), None)
            if twice:
                raise ValueError(f"{kinds[0].rstrip('_')}: name {twice!r} appears twice")
            return self
        expected = {"column": "completions", "event": "events"}.get(kinds[0])
        if self.source is not None and self.source != expected:
            what = {"column": "a column", "event": "an event"}.get(kinds[0], "nothing")
            raise ValueError(f"source: {what} is read from the cohort's {expected!r} export, not {self.source!r}")
        if self.score is not None and self.event is None:
            raise ValueError("score: a score is the value of an event; name the 'event'")
        return self


class DueSpec(FileModel):
    """When a stage is due: ``{date: YYYY-MM-DD}``, ``{after: signup | entered, duration: 7d}`` or
    ``{deadline: cohort}``."""

    date: Date | None = None
    """A fixed day."""
    deadline: choice(("cohort",), "only 'cohort' (the cohort's deadline) is known") | None = None
    """`cohort`: the cohort's deadline."""
    after: choice(("signup", "entered"), "expected 'signup' or 'entered', got {value!r}") | None = None
    """`signup` or `entered`."""
    duration: Duration | None = None
    """How long after (like 3d, 36h, 2w, 1d12h)."""

    SHAPE: ClassVar[str] = "expected {date: YYYY-MM-DD}, {after: signup|entered, duration: 7d} or {deadline: cohort}"

    @model_validator(mode="after")
    def _one_form(self) -> DueSpec:
        given = sorted(self.model_fields_set)
        for only in ("date", "deadline"):
            if only in given and given != [only]:
                raise ValueError(f"unknown key(s) {[k for k in given if k != only]}; known: [{only!r}]")
        if given and given[0] not in ("date", "deadline"):
            if self.after is None:
                raise ValueError("after: expected 'signup' or 'entered', got None")
            if self.duration is None:
                raise ValueError(f"duration: how long after {self.after} (like 3d, 36h or 2w)")
        elif not given:
            raise ValueError(self.SHAPE)
        return self


class ApprovalSpec(FileModel):
    """Who approves the stage, and the score at which it approves itself."""

    by: typed(str, lambda v: _team_name(v, approver=True), {"type": "string", "pattern": ID_PATTERN})
    """`instructor`, `csm`, or a team of the journey's `teams`."""
    auto_if_score_at_least: Number | None = None
    """Approved without asking at this score."""

    SHAPE: ClassVar[str] = "expected {by: instructor | csm | <team>}"

    @classmethod
    def missing_message(cls, missing: list[str], data: dict) -> str:
        return f"by: expected one of {list(APPROVERS)} or a team of the journey's 'teams', got None"


class BranchSpec(FileModel):
    """Where a stage leads: always (no ``if``), or on a condition."""

    if_: choice(BRANCH_CONDITIONS) | None = Field(None, alias="if")
    """`approved`, `rejected`, `passed` or `failed` (none: always)."""
    to: Text
    """A stage id or `end`."""

    SHAPE: ClassVar[str] = "expected {if: <condition>, to: <stage>}"


def _next(value: Any) -> Any:
    if isinstance(value, str):
        return [{"to": value}]
    if not isinstance(value, list) or not value:
        raise ValueError("expected a stage id, 'end', or a list of {if: <condition>, to: <stage>}")
    return value


def _members(value: Any) -> Any:
    if value is not None and (not isinstance(value, list) or len(value) < 2):
        raise ValueError("expected a list of at least two member stages (each with its id and evidence)")
    return value


class StageSpec(FileModel):
    """One stage of a journey, as written (see the module's docstring)."""

    id: StageId
    """Lower-case letters, digits, '-' and '_'; not `end`."""
    title: one_line(200) | None = None
    """Shown in reports (default: the id)."""
    evidence: EvidenceSpec | None = None
    """What completes it (required, except of a `together` stage)."""
    due: DueSpec | None = None
    """When it is due."""
    reminders: list[Duration] = []
    """Durations before due."""
    on_missed: typed(str, _on_missed, {"anyOf": [{"enum": ["cancel", "nothing"]}, {
        "type": "object", "properties": {"escalate": {"enum": list(APPROVERS)}}, "required": ["escalate"],
        "additionalProperties": False}]}) = "nothing"
    """`cancel`, `nothing` or `{escalate: csm | instructor}` once overdue."""
    emails_on_enter: list[Kind] = []
    """Email kinds sent on entering."""
    emails_on_complete: list[Kind] = []
    """Email kinds sent on completing."""
    approval: ApprovalSpec | None = None
    """Who approves it before the customer moves on."""
    next: Annotated[list[BranchSpec] | None,
                    BeforeValidator(_next, json_schema_input_type=Text | list[BranchSpec])] = None
    """A stage, `end`, or branches `[{if: ..., to: ...}]` (default: the following stage)."""
    assign_csm: bool = False
    """Entering it places the customer with a CSM; its evidence is `{entered: true}`."""
    optional: bool = False
    """Offered, not required: undone at its `due` time it is skipped (no cancel, no escalation)."""
    owner: typed(str, _team_name, {"type": "string", "pattern": ID_PATTERN}) | None = None
    """The team that owns it (a name of the journey's `teams`, or `instructor`)."""
    together: Annotated[list[StageSpec] | None, Field(min_length=2, max_length=MAX_STAGES),
                        BeforeValidator(_members)] = None
    """Member stages run side by side, entered at once; the journey goes on (`next`) when all are done."""

    @model_validator(mode="before")
    @classmethod
    def _evidence_or_members(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("together") in (None, "") and data.get("evidence") in (None, ""):
            raise ValueError("'evidence' is required")
        return data

    @model_validator(mode="after")
    def _group_keys(self) -> StageSpec:
        if self.together is None:
            return self
        given = [k for k in ("evidence", "due", "reminders", "emails_on_enter", "emails_on_complete", "approval",
                             "assign_csm", "optional", "on_missed") if k in self.model_fields_set]
        if given:
            raise ValueError(f"{given[0]}: a 'together' stage is done when all its members are; give "
                             f"'{given[0]}' to each member that needs it")
        nested = next((m.id for m in self.together if m.together is not None), None)
        if nested:
            raise ValueError(f"together: member {nested!r} is itself a 'together' stage; list its members here instead")
        return self


class CsmSpec(FileModel):
    """A CSM of the journey's roster."""

    name: typed(str, _csm_name, {"type": "string", "minLength": 1, "maxLength": 200})
    """The introduction email is sent in it."""
    email: typed(str, _csm_email, {"type": "string"})
    """One plain address."""
    capacity: whole(1, 100_000, " of customers")
    """Customers at once."""
    attributes: typed(tuple, _attributes, {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}) = ()
    """Language, time zone... (`language: de`)."""

    SHAPE: ClassVar[str] = "expected {name, email, capacity}"


def _team_name(value: Any, approver: bool = False) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        if approver:
            raise ValueError(f"expected one of {list(APPROVERS)} or a team of the journey's 'teams', got {value!r}")
        raise ValueError(f"{value!r} is not a team name (lower-case letters, digits, '-' and '_')")
    return value


def _team_members(value: Any) -> tuple[str, ...]:
    """One address, or a list of them; each plain, none twice."""
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not listed:
        raise ValueError("expected the team's address, or a list of its members' addresses (at least one)")
    if len(listed) > MAX_TEAM_MEMBERS:
        raise ValueError(f"{len(listed)} members; a team has at most {MAX_TEAM_MEMBERS}")
    out: list[str] = []
    for i, v in enumerate(listed):
        try:
            email = _csm_email(v)
        except ValueError as exc:
            raise ValueError(f"[{i}]: {exc}" if len(listed) > 1 else str(exc)) from None
        if email in out:
            raise ValueError(f"[{i}]: {email} appears twice")
        out.append(email)
    return tuple(out)


class TeamSpec(FileModel):
    """A team of the journey: its members and how often it gets its digest."""

    members: typed(tuple, _team_members, {"oneOf": [{"type": "string"},
                                                     {"type": "array", "items": {"type": "string"},
                                                      "minItems": 1, "maxItems": MAX_TEAM_MEMBERS}]})
    """Its members' addresses (or the team's one address)."""
    title: one_line(200) | None = None
    """Shown in digests, the timeline and the summary (default: the name)."""
    digest: choice(CADENCES) = "daily"
    """`daily`, or `weekly:mon` ... `weekly:sun`: the runs that send its digest."""

    SHAPE: ClassVar[str] = "expected {members: [<address>, ...], digest: daily | weekly:<day>}"


def _teams_shape(value: Any) -> Any:
    if value is None:
        return value
    if not isinstance(value, dict) or not value:
        raise ValueError("expected a mapping of team names to {members, digest}")
    if len(value) > MAX_TEAMS:
        raise ValueError(f"{len(value)} teams; a journey has at most {MAX_TEAMS}")
    # A team given as its address(es) only: its digest daily.
    return {k: ({"members": v} if isinstance(v, (str, list)) else v) for k, v in value.items()}


class QueriesSpec(FileModel):
    """Customers' questions: the event that opens one, the one that closes it, and how long one may
    stay open before the instructor hears of it."""

    asked: Event
    """The event that opens a query."""
    answered: Event
    """The event (same link) that closes it."""
    escalate_after: Duration = dt.timedelta(days=2)
    """Open longer than this: the instructor is told."""
    owner: typed(str, _team_name, {"type": "string", "pattern": ID_PATTERN}) | None = None
    """The team that answers queries (one of the journey's `teams`; default: the customer's CSM)."""

    SHAPE: ClassVar[str] = "expected {asked: <event>, answered: <event>, escalate_after: 2d, owner: <team>}"

    @model_validator(mode="after")
    def _two_events(self) -> QueriesSpec:
        if self.asked == self.answered:
            raise ValueError("answered: must be another event than 'asked'")
        return self


def _roster_shape(value: Any) -> Any:
    if value is not None and value != "per_cohort" and not isinstance(value, list):
        raise ValueError(f"expected the roster (a list of {{name, email, capacity}}) or 'per_cohort', got {value!r}")
    return value


def _roster_kind(value: Any) -> str:
    return f"{TAG}per_cohort" if value == "per_cohort" else f"{TAG}roster"


class JourneySpec(FileModel):
    """One journey of the file, as written."""

    title: one_line(200) | None = None
    """Shown in reports (default: the id)."""
    stages: Annotated[list[StageSpec], Field(min_length=1, max_length=MAX_STAGES), BeforeValidator(_stages)]
    """In order; the first is entered at signup."""
    csms: Annotated[Annotated[Union[Annotated[list[CsmSpec], Tag(f"{TAG}roster")],
                          Annotated[Literal["per_cohort"], Tag(f"{TAG}per_cohort")]],
                    Discriminator(_roster_kind)] | None, BeforeValidator(_roster_shape)] = None
    """The roster (name, email, capacity, attributes), or `per_cohort`: each cohort's `csms` export."""
    csm_assignment: choice(CSM_METHODS) = "least_loaded"
    """How a customer's CSM is chosen."""
    csm_match: list[typed(str, _attribute, {"type": "string", "pattern": ID_PATTERN})] = []
    """Attributes a CSM must share with the customer."""
    emails_expire_after: Duration = DEFAULT_EXPIRY
    """An email not sent within this long of becoming due is not sent at all."""
    queries: QueriesSpec | None = None
    """Customers' questions, routed to their CSM and escalated to the instructor."""
    teams: Annotated[dict[Annotated[str, Field(pattern=ID_PATTERN)], TeamSpec] | None,
                     BeforeValidator(_teams_shape)] = None
    """Teams by name: their members (an address or a list) and digest cadence; stages name one as `owner`."""
    version: one_line(100) | None = None
    """A label for this version of the journey (like `2026-11 v2`), shown where versions are compared (default: the short hash of its definition)."""

    SHAPE: ClassVar[str] = "expected a mapping with 'stages:'"

    @classmethod
    def missing_message(cls, missing: list[str], data: dict) -> str:
        return "stages: expected a list of at least one stage"


class JourneysDocument(FileModel):
    """The journey file: journeys by id."""

    journeys: dict[Annotated[str, Field(pattern=ID_PATTERN)], JourneySpec]


def journeys_from(doc: Any, path: Path) -> dict[str, Journey]:
    """The journeys of a file (``doc``: its parsed YAML), with the built-in ``seed``; any problem
    raises ``ConfigError`` naming the file, the journey, the stage and the key."""
    if not isinstance(doc, dict) or set(doc) != {"journeys"} or not isinstance(doc["journeys"], dict) \
            or not doc["journeys"]:
        raise ConfigError(f"{path}: expected one top-level 'journeys:' mapping of journey ids to journeys")
    out = {SEED_ID: SEED}
    for jid, raw in doc["journeys"].items():
        where = f"{path}: journey {jid!r}"
        if not isinstance(jid, str) or not _ID.fullmatch(jid):
            raise ConfigError(f"{where}: a journey id is lower-case letters, digits, '-' and '_'")
        if jid == SEED_ID:
            raise ConfigError(f"{where}: {SEED_ID!r} is the built-in journey; name yours otherwise")
        out[jid] = parse_journey(jid, raw, where, str(path))
    return out


def parse_journey(jid: str, raw: Any, where: str, source: str = "built in") -> Journey:
    """One journey (``raw``: its mapping in the file), checked: its shape by ``JourneySpec``, then
    what ties its parts together (branches, rosters, reminders against due times, the graph)."""
    try:
        spec = JourneySpec.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, where, ": ", _stage_names(raw)) from None
    ids = [s.id for s in spec.stages]
    every = [x.id for s in spec.stages for x in (s, *(s.together or ()))]
    for sid in every:
        if every.count(sid) > 1:
            raise ConfigError(f"{where}: stage {sid!r}: id: appears twice")
    stages: list[Stage] = []
    for i, s in enumerate(spec.stages):
        stages.append(_stage(s, ids, i, f"{where}: stage {s.id!r}"))
        stages += [_member(m, s.id, f"{where}: stage {s.id!r}: stage {m.id!r}") for m in s.together or ()]
    # A member without an owner of its own is its group's.
    owners = {s.id: s.owner for s in stages}
    stages = tuple(replace(s, owner=owners[s.group]) if s.group and s.owner is None else s for s in stages)
    per_cohort = spec.csms == "per_cohort"
    csms = () if per_cohort else _roster(spec.csms or [], f"{where}: csms")
    _check_csms(spec, stages, csms, where)
    teams = _teams(spec, where)
    _check_owners(stages, teams, where)
    _check_queries_owner(spec, teams, where)
    journey = Journey(jid, spec.title or jid, stages, source, csms, spec.csm_assignment, tuple(spec.csm_match),
                      spec.emails_expire_after,
                      Queries(**spec.queries.model_dump()) if spec.queries else None, per_cohort, teams,
                      *_version(spec))
    _check_graph(journey, where)
    return journey


def definition_digest(spec: JourneySpec) -> str:
    """A hash of the journey's definition: its typed spec (defaults filled in, keys sorted) as
    JSON, without its ``version`` label, so neither spacing, key order, comments nor relabelling
    changes it, and any change to a stage does."""
    import hashlib
    import json

    # A journey without a queries owner hashes as before the key existed (its version is unchanged).
    exclude: dict[str, Any] = {"version": True}
    if spec.queries is not None and spec.queries.owner is None:
        exclude["queries"] = {"owner"}
    canonical = json.dumps(spec.model_dump(by_alias=True, exclude=exclude, warnings=False), sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _version(spec: JourneySpec) -> tuple[str, str]:
    digest = definition_digest(spec)
    return digest, spec.version or digest[:SHORT_HASH]


SHORT_HASH = 8


def _stage_names(raw: Any):
    """Names a stage in an error by its id (``stage 'details'``), or by its place while its id is
    not one."""
    stages = raw.get("stages") if isinstance(raw, dict) else None

    def name(loc: tuple) -> str | None:
        item: Any = None
        if len(loc) == 2 and loc[0] == "stages" and isinstance(loc[1], int) and isinstance(stages, list):
            item = stages[loc[1]]
        elif len(loc) == 4 and loc[0] == "stages" and loc[2] == "together" and isinstance(loc[3], int) \
                and isinstance(stages, list) and isinstance(stages[loc[1]], dict) \
                and isinstance(stages[loc[1]].get("together"), list):
            item = stages[loc[1]]["together"][loc[3]]  # a member: named by its own id
        sid = item.get("id") if isinstance(item, dict) else None
        return f"stage {sid!r}" if isinstance(sid, str) and _ID.fullmatch(sid) and sid != END else None
    return name


def _teams(spec: JourneySpec, where: str) -> tuple[Team, ...]:
    """The journey's teams; a team's name is never one of the approvers the engine knows (who
    would an approval ``by: csm`` ask?) nor ``end``."""
    out = []
    for name, t in (spec.teams or {}).items():
        if name in (*APPROVERS, END):
            raise ConfigError(f"{where}: teams: {name!r}: the name is taken ({', '.join((*APPROVERS, END))} are "
                              f"the engine's own); name the team otherwise")
        out.append(Team(name, t.title, t.members, t.digest))
    return tuple(out)


def _check_owners(stages: tuple[Stage, ...], teams: tuple[Team, ...], where: str) -> None:
    """A stage's owner and a team approval name a team of the journey (or the instructor)."""
    names = [t.name for t in teams]
    for s in stages:
        w = f"{where}: stage {s.id!r}"
        if s.owner is not None and s.owner != "instructor" and s.owner not in names:
            raise ConfigError(f"{w}: owner: unknown team {s.owner!r}; the journey's teams: {names} (or 'instructor')")
        if s.approval_by is not None and s.approval_by not in APPROVERS and s.approval_by not in names:
            raise ConfigError(f"{w}: approval: by: expected one of {list(APPROVERS)} or a team of the journey's "
                              f"'teams' {names}, got {s.approval_by!r}")


def _check_queries_owner(spec: JourneySpec, teams: tuple[Team, ...], where: str) -> None:
    """The team that answers queries is one of the journey's teams."""
    owner = spec.queries.owner if spec.queries else None
    names = [t.name for t in teams]
    if owner is not None and owner not in names:
        raise ConfigError(f"{where}: queries: owner: unknown team {owner!r}; the journey's teams: {names}")


def _roster(specs: list[CsmSpec], where: str) -> tuple[Csm, ...]:
    out: list[Csm] = []
    for i, c in enumerate(specs):
        if any(x.email == c.email for x in out):
            raise ConfigError(f"{where}[{i}]: email: {c.email} appears twice")
        out.append(Csm(c.name, c.email, c.capacity, c.attributes))
    return tuple(out)


def _check_csms(spec: JourneySpec, stages: tuple[Stage, ...], csms: tuple[Csm, ...], where: str) -> None:
    """What needs a CSM has a roster: matching on an attribute, placing a customer, a CSM's approval."""
    per_cohort = spec.csms == "per_cohort"
    for key in spec.csm_match:
        if not per_cohort and not any(c.attribute(key) for c in csms):
            raise ConfigError(f"{where}: csm_match: {key!r} is not an attribute of any CSM in the roster")
    if csms or per_cohort:
        return
    for s in stages:
        if s.assign_csm:
            raise ConfigError(f"{where}: stage {s.id!r}: assign_csm: needs the journey's 'csms' roster "
                              f"(or 'csms: per_cohort' and a 'csms' source in each cohort)")
        if s.approval_by == "csm" or s.on_missed == "escalate:csm":
            what = "approval: by" if s.approval_by == "csm" else "on_missed: escalate"
            raise ConfigError(f"{where}: stage {s.id!r}: {what}: 'csm' needs the journey's 'csms' roster")


def _evidence(spec: EvidenceSpec) -> Evidence:
    parts = spec.all_ or spec.any_
    if parts is not None:
        return Evidence(need="all" if spec.all_ else "any", parts=tuple(
            Part(p.name, Evidence(p.column, p.event, source="completions" if p.column else "events",
                                  pass_mark=p.score)) for p in parts))
    return Evidence(spec.column, spec.event, spec.entered is True,
                    spec.source or ("completions" if spec.column else "events" if spec.event else None),
                    spec.score)


def _due(spec: DueSpec | None) -> Due | None:
    if spec is None:
        return None
    if spec.date is not None or spec.deadline is not None:
        return Due(date=spec.date, cohort_deadline=spec.deadline is not None)
    return Due(after=spec.after, duration=spec.duration)


def _member(spec: StageSpec, group: str, where: str) -> Stage:
    """A member of a ``together`` stage: a stage of its own, entered with its group; done, it waits
    at the join, so its ``next`` may only be a second try (on ``rejected``/``failed``, to itself)."""
    for i, b in enumerate(spec.next or ()):
        if b.if_ not in RETRY_CONDITIONS or b.to not in (spec.id, END):
            raise ConfigError(f"{where}: next[{i}]: a member of {group!r} goes on with its group when all members "
                              f"are done; its 'next' may only be a second try ({{if: rejected, to: {spec.id}}}) "
                              f"or {{if: rejected, to: end}}; give the way on to {group!r}")
    if spec.assign_csm:
        raise ConfigError(f"{where}: assign_csm: a CSM is placed in a stage of its own, not side by side")
    stage = _stage(spec, [spec.id], 0, where, member=True)
    return replace(stage, next=tuple(b for b in stage.next if b.condition is not None), group=group)


def _stage(spec: StageSpec, ids: list[str], index: int, where: str, member: bool = False) -> Stage:
    """A stage as the engine reads it; what one key says about another is checked here."""
    if spec.together is not None:
        return Stage(spec.id, spec.title or spec.id, Evidence(), next=_branches(spec, ids, index, Evidence(),
                                                                               f"{where}: next"),
                     members=tuple(m.id for m in spec.together), owner=spec.owner)
    evidence, due, reminders = _evidence(spec.evidence), _due(spec.due), tuple(spec.reminders)
    if reminders and due is None:
        raise ConfigError(f"{where}: reminders: a stage without 'due' has nothing to remind of")
    if due is not None and due.duration is not None:
        late = [r for r in reminders if r >= due.duration]
        if late:
            raise ConfigError(f"{where}: reminders: {show_duration(late[0])} before due is at or before the stage is "
                              f"{'entered' if due.after == 'entered' else 'signed up for'} (due {show_duration(due.duration)} "
                              f"after it): a reminder after the due time")
    if spec.on_missed != "nothing" and due is None:
        raise ConfigError(f"{where}: on_missed: a stage without 'due' cannot be missed")
    approval = spec.approval
    if approval is not None and approval.auto_if_score_at_least is not None and evidence.pass_mark is None:
        raise ConfigError(f"{where}: approval: auto_if_score_at_least: the stage's evidence has no score")
    approval_by = approval.by if approval else None
    if spec.assign_csm and not evidence.entered:
        raise ConfigError(f"{where}: assign_csm: the stage is done when the customer has a CSM; its evidence "
                          f"must be {{entered: true}}")
    branches = _branches(spec, ids, index, evidence, f"{where}: next")
    if spec.optional:
        _check_optional(spec, evidence, branches if not member else (Branch(None, END),), where)
    return Stage(spec.id, spec.title or spec.id, evidence, due, reminders, spec.on_missed,
                 tuple(spec.emails_on_enter), tuple(spec.emails_on_complete), approval_by,
                 approval.auto_if_score_at_least if approval else None,
                 branches, spec.assign_csm, spec.optional, owner=spec.owner)


def _check_optional(spec: StageSpec, evidence: Evidence, branches: tuple[Branch, ...], where: str) -> None:
    """An optional stage needs a ``due`` time (when it is skipped) and a plain ``next`` (where a
    skipped stage leads); being skipped is its only way of being missed."""
    if spec.due is None:
        raise ConfigError(f"{where}: optional: an optional stage needs 'due': it is skipped when that passes undone")
    if spec.on_missed != "nothing":
        shown = spec.on_missed.replace(":", ": ")
        raise ConfigError(f"{where}: on_missed: {shown!r} contradicts 'optional: true' (an optional stage undone "
                          f"when due is skipped, never cancelled or escalated); remove one of them")
    if evidence.entered or spec.assign_csm:
        raise ConfigError(f"{where}: optional: a stage done on entering ({'assign_csm' if spec.assign_csm else 'entered: true'}) "
                          f"cannot be skipped")
    if not any(b.condition is None for b in branches):
        raise ConfigError(f"{where}: next: an optional stage needs a branch without 'if' (where it leads when "
                          f"skipped), like {{to: <stage>}}")


def _branches(spec: StageSpec, ids: list[str], index: int, evidence: Evidence, where: str) -> tuple[Branch, ...]:
    """Where the stage leads (by default: the following stage); each condition needs what decides it."""
    if spec.next is None:
        return (Branch(None, ids[index + 1] if index + 1 < len(ids) else END),)
    out: list[Branch] = []
    for i, b in enumerate(spec.next):
        w, cond = f"{where}[{i}]", b.if_
        if cond in ("approved", "rejected") and spec.approval is None:
            raise ConfigError(f"{w}: if: {cond!r} needs the stage to have an 'approval'")
        if cond in ("passed", "failed") and evidence.pass_mark is None:
            raise ConfigError(f"{w}: if: {cond!r} needs the stage's evidence to have a 'score'")
        if b.to != END and b.to not in ids:
            raise ConfigError(f"{w}: to: unknown stage {b.to!r}; the journey's stages: {ids} (or 'end')")
        if any(x.condition == cond for x in out):
            raise ConfigError(f"{w}: if: {cond or 'always'!r} appears twice")
        out.append(Branch(cond, b.to))
    return tuple(out)


def _check_graph(journey: Journey, where: str) -> None:
    """No cycle, except a second try (a branch on ``rejected``/``failed`` back to an earlier
    stage), and every stage reachable from the first."""
    order = {s.id: i for i, s in enumerate(journey.stages)}
    for s in journey.stages:
        for b in s.next:
            if b.to != END and journey.stage(b.to).members and order[b.to] <= order[s.id]:
                raise ConfigError(f"{where}: stage {s.id!r}: next: {b.to!r} runs its members side by side once; a "
                                  f"second try is each member's own ({{if: rejected, to: <member>}})")
    edges = {s.id: [b.to for b in s.next if b.to != END and not (b.condition in RETRY_CONDITIONS
                                                                 and order[b.to] <= order[s.id])]
             for s in journey.stages}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                loop = path[path.index(nxt):] + [nxt]
                raise ConfigError(f"{where}: stage {node!r}: next: a cycle ({' -> '.join(loop)}); only a branch on "
                                  f"'rejected' or 'failed' may lead back, as a second try")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for s in journey.stages:
        if s.id not in state:
            visit(s.id, [s.id])
    reached, todo = set(), [journey.stages[0].id]
    while todo:
        node = todo.pop()
        if node in reached:
            continue
        reached.add(node)
        todo += [b.to for b in journey.stage(node).next if b.to != END] + list(journey.stage(node).members)
    stranded = [s.id for s in journey.stages if s.id not in reached]
    if stranded:
        raise ConfigError(f"{where}: stage {stranded[0]!r}: no stage leads to it (the journey starts at "
                          f"{journey.stages[0].id!r})")


def show_duration(d: dt.timedelta) -> str:
    """A duration as the journey file writes it: whole days as '3d', anything else in hours."""
    if d % dt.timedelta(days=1) == dt.timedelta(0):
        return f"{d.days}d"
    return f"{int(d.total_seconds() // 3600)}h"

