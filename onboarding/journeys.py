"""Journeys: the stages a customer goes through, defined in YAML and checked when read.

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
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboarding.errors import ConfigError

SEED_ID = "seed"
JOURNEY_KEYS = ("title", "stages", "exports", "csms", "csm_assignment", "csm_match", "emails_expire_after", "queries")
QUERY_KEYS = ("asked", "answered", "escalate_after")
DEFAULT_EXPIRY = dt.timedelta(days=3)
CSM_KEYS = ("name", "email", "capacity", "attributes")
CSM_METHODS = ("least_loaded", "round_robin")
STAGE_KEYS = ("id", "title", "evidence", "due", "reminders", "on_missed", "emails_on_enter", "emails_on_complete",
              "approval", "next", "assign_csm")
EVIDENCE_KEYS = ("column", "event", "entered", "source", "score")
APPROVERS = ("instructor", "csm")
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

    @property
    def event_name(self) -> str | None:
        """The event rows that are this evidence: its event's name, or for a column of the wide
        export the rows its cells become (``completions/<column>``: '/' is never in an event
        name of the events export, so the two never mix)."""
        return self.event.lower() if self.event else column_event(self.column) if self.column else None


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
class Queries:
    """A customer's questions (steps 15 and 16): an ``asked`` event opens one, an ``answered``
    event with the same link (the ticket) closes it; open ones go to the customer's CSM's digest,
    and to the instructor once open longer than ``escalate_after``."""

    asked: str
    answered: str
    escalate_after: dt.timedelta


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

    def stage(self, stage_id: str) -> Stage:
        return next(s for s in self.stages if s.id == stage_id)

    def email_kinds(self) -> tuple[tuple[Stage, str], ...]:
        """Every email the journey may send, per stage and kind (its ledger kind is
        ``<stage>:<kind>``): on entering, on completing, its reminders, its cancellation."""
        return tuple((s, k) for s in self.stages for k in (
            *s.emails_on_enter, *s.emails_on_complete, *(f"reminder_{i}" for i in range(1, len(s.reminders or ()) + 1)),
            *(("cancellation",) if s.on_missed == "cancel" else ())))

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
))


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
            raise ConfigError(f"{where}: 'seed' is the built-in journey; name yours otherwise")
        out[jid] = parse_journey(jid, raw, where, str(path))
    return out


def parse_journey(jid: str, raw: Any, where: str, source: str = "built in") -> Journey:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with 'stages:'")
    _unknown(raw, JOURNEY_KEYS, where)
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError(f"{where}: stages: expected a list of at least one stage")
    if len(stages_raw) > MAX_STAGES:
        raise ConfigError(f"{where}: stages: {len(stages_raw)} stages; a journey has at most {MAX_STAGES}")
    ids: list[str] = []
    for i, s in enumerate(stages_raw):
        sid = s.get("id") if isinstance(s, dict) else None
        if not isinstance(sid, str) or not _ID.fullmatch(sid) or sid == END:
            raise ConfigError(f"{where}: stages[{i}]: id: expected an id (lower-case letters, digits, '-', '_'; "
                              f"not 'end'), got {sid!r}")
        if sid in ids:
            raise ConfigError(f"{where}: stage {sid!r}: id: appears twice")
        ids.append(sid)
    stages = tuple(_stage(s, ids, i, f"{where}: stage {s['id']!r}") for i, s in enumerate(stages_raw))
    per_cohort = raw.get("csms") == "per_cohort"
    csms = () if per_cohort else _roster(raw.get("csms"), f"{where}: csms")
    method = raw.get("csm_assignment", "least_loaded")
    if method not in CSM_METHODS:
        raise ConfigError(f"{where}: csm_assignment: expected one of {list(CSM_METHODS)}, got {method!r}")
    match = tuple(_list(raw.get("csm_match"), f"{where}: csm_match"))
    for key in match:
        if not isinstance(key, str) or not _ID.fullmatch(key):
            raise ConfigError(f"{where}: csm_match: {key!r} is not an attribute name (lower-case letters, digits, '_')")
        if not per_cohort and not any(c.attribute(key) for c in csms):
            raise ConfigError(f"{where}: csm_match: {key!r} is not an attribute of any CSM in the roster")
    if not csms and not per_cohort:
        for s in stages:
            if s.assign_csm:
                raise ConfigError(f"{where}: stage {s.id!r}: assign_csm: needs the journey's 'csms' roster "
                                  f"(or 'csms: per_cohort' and a 'csms' source in each cohort)")
            if s.approval_by == "csm" or s.on_missed == "escalate:csm":
                what = "approval: by" if s.approval_by == "csm" else "on_missed: escalate"
                raise ConfigError(f"{where}: stage {s.id!r}: {what}: 'csm' needs the journey's 'csms' roster")
    expiry = (_duration(raw["emails_expire_after"], f"{where}: emails_expire_after") if "emails_expire_after" in raw
              else DEFAULT_EXPIRY)
    journey = Journey(jid, str(raw.get("title") or jid), stages, source, csms, method, match, expiry,
                      _queries(raw.get("queries"), f"{where}: queries"), per_cohort)
    _check_graph(journey, where)
    return journey


def _queries(raw: Any, where: str) -> Queries | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected {{asked: <event>, answered: <event>, escalate_after: 2d}}")
    _unknown(raw, QUERY_KEYS, where)
    for k in ("asked", "answered"):
        if not isinstance(raw.get(k), str) or not raw[k].strip():
            raise ConfigError(f"{where}: {k}: expected an event name")
    if raw["asked"].strip().lower() == raw["answered"].strip().lower():
        raise ConfigError(f"{where}: answered: must be another event than 'asked'")
    return Queries(raw["asked"].strip().lower(), raw["answered"].strip().lower(),
                   _duration(raw.get("escalate_after", "2d"), f"{where}: escalate_after"))


def _roster(raw: Any, where: str) -> tuple[Csm, ...]:
    """The CSMs: name, email (one plain address), capacity (1..100,000), attributes (text values)."""
    from onboarding.addresses import is_plain_address

    out: list[Csm] = []
    for i, c in enumerate(_list(raw, where)):
        w = f"{where}[{i}]"
        if not isinstance(c, dict):
            raise ConfigError(f"{w}: expected {{name, email, capacity}}")
        _unknown(c, CSM_KEYS, w)
        email = str(c.get("email") or "").strip().lower()
        if not is_plain_address(email):
            raise ConfigError(f"{w}: email: {c.get('email')!r} is not one email address")
        if any(x.email == email for x in out):
            raise ConfigError(f"{w}: email: {email} appears twice")
        capacity = c.get("capacity")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 100_000:
            raise ConfigError(f"{w}: capacity: expected a whole number of customers from 1 to 100000, got {capacity!r}")
        attrs = c.get("attributes") or {}
        if not isinstance(attrs, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) for k, v in attrs.items()):
            raise ConfigError(f"{w}: attributes: expected a mapping of names to values (language: de)")
        name = " ".join(str(c.get("name") or "").split())
        if not name or len(name) > 200:
            raise ConfigError(f"{w}: name: expected the CSM's name (the introduction email is sent in it)")
        out.append(Csm(name, email, capacity, tuple(sorted((k, str(v)) for k, v in attrs.items()))))
    return tuple(out)


def _stage(raw: dict, ids: list[str], index: int, where: str) -> Stage:
    _unknown(raw, STAGE_KEYS, where)
    evidence = _evidence(raw.get("evidence"), f"{where}: evidence")
    due = _due(raw.get("due"), f"{where}: due")
    reminders = tuple(_duration(r, f"{where}: reminders[{i}]") for i, r in enumerate(_list(raw.get("reminders"),
                                                                                         f"{where}: reminders")))
    if reminders and due is None:
        raise ConfigError(f"{where}: reminders: a stage without 'due' has nothing to remind of")
    if due is not None and due.duration is not None:
        late = [r for r in reminders if r >= due.duration]
        if late:
            raise ConfigError(f"{where}: reminders: {show_duration(late[0])} before due is at or before the stage is "
                              f"{'entered' if due.after == 'entered' else 'signed up for'} (due {show_duration(due.duration)} "
                              f"after it): a reminder after the due time")
    on_missed = _on_missed(raw.get("on_missed", "nothing"), f"{where}: on_missed")
    if on_missed != "nothing" and due is None:
        raise ConfigError(f"{where}: on_missed: a stage without 'due' cannot be missed")
    approval_by, auto = _approval(raw.get("approval"), evidence, f"{where}: approval")
    nxt = _next(raw.get("next"), ids, index, approval_by, evidence, f"{where}: next")
    assign = raw.get("assign_csm", False)
    if not isinstance(assign, bool):
        raise ConfigError(f"{where}: assign_csm: expected true or false, got {assign!r}")
    if assign and not evidence.entered:
        raise ConfigError(f"{where}: assign_csm: the stage is done when the customer has a CSM; its evidence "
                          f"must be {{entered: true}}")
    return Stage(raw["id"], str(raw.get("title") or raw["id"]), evidence, due, reminders, on_missed,
                 _kinds(raw.get("emails_on_enter"), f"{where}: emails_on_enter"),
                 _kinds(raw.get("emails_on_complete"), f"{where}: emails_on_complete"), approval_by, auto, nxt,
                 assign)


def _evidence(raw: Any, where: str) -> Evidence:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected one of {{column: ...}}, {{event: ...}} or {{entered: true}}")
    _unknown(raw, EVIDENCE_KEYS, where)
    kinds = [k for k in ("column", "event", "entered") if raw.get(k) not in (None, False)]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: name exactly one of 'column', 'event' or 'entered' (got {kinds or 'none'})")
    for k in ("column", "event", "source"):
        if k in raw and (not isinstance(raw[k], str) or not raw[k].strip()):
            raise ConfigError(f"{where}: {k}: expected a name, got {raw[k]!r}")
    if "entered" in raw and raw["entered"] is not True:
        raise ConfigError(f"{where}: entered: expected true")
    if "column" in raw and (not _ID.fullmatch(str(raw["column"])) or raw["column"] in ("email", "name")):
        raise ConfigError(f"{where}: column: {raw['column']!r} is not a field name (lower-case letters, digits, '_'): "
                          f"name the field, and map it to the export's header in the cohort's 'completions' source")
    expected = "completions" if "column" in raw else "events" if "event" in raw else None
    if "source" in raw and raw["source"] != expected:
        raise ConfigError(f"{where}: source: {'a column' if 'column' in raw else 'an event' if 'event' in raw else 'nothing'} "
                          f"is read from the cohort's {expected!r} export, not {raw['source']!r}")
    pass_mark = None
    if "score" in raw:
        score = raw["score"]
        if not isinstance(score, dict) or set(score) != {"pass_mark"} or isinstance(score["pass_mark"], bool) \
                or not isinstance(score["pass_mark"], (int, float)) or not math.isfinite(score["pass_mark"]):
            # .nan would pass every comparison's "not below" and .inf fail everyone: a number only
            raise ConfigError(f"{where}: score: expected {{pass_mark: <number>}}")
        if "event" not in raw:
            raise ConfigError(f"{where}: score: a score is the value of an event; name the 'event'")
        pass_mark = float(score["pass_mark"])
    return Evidence(raw.get("column"), raw.get("event"), raw.get("entered") is True,
                    raw.get("source") or ("completions" if "column" in raw else "events" if "event" in raw else None),
                    pass_mark)


def _due(raw: Any, where: str) -> Due | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected {{date: YYYY-MM-DD}}, {{after: signup|entered, duration: 7d}} or "
                          f"{{deadline: cohort}}")
    if "date" in raw:
        _unknown(raw, ("date",), where)
        value = raw["date"]
        try:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{where}: date: {value!r} is not a date (YYYY-MM-DD)") from None
        return Due(date=day)
    if "deadline" in raw:
        _unknown(raw, ("deadline",), where)
        if raw["deadline"] != "cohort":
            raise ConfigError(f"{where}: deadline: only 'cohort' (the cohort's deadline) is known")
        return Due(cohort_deadline=True)
    _unknown(raw, ("after", "duration"), where)
    if raw.get("after") not in ("signup", "entered"):
        raise ConfigError(f"{where}: after: expected 'signup' or 'entered', got {raw.get('after')!r}")
    if "duration" not in raw:
        raise ConfigError(f"{where}: duration: how long after {raw['after']} (like 3d, 36h or 2w)")
    duration = _duration(raw["duration"], f"{where}: duration")
    if duration <= dt.timedelta(0):
        raise ConfigError(f"{where}: duration: must be more than zero")
    return Due(after=raw["after"], duration=duration)


def _duration(raw: Any, where: str) -> dt.timedelta:
    """'3d', '36h', '2w', '90m' or '1d12h'."""
    text = str(raw).strip().lower() if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ConfigError(f"{where}: {raw!r} is not a duration (like 3d, 36h, 2w or 1d12h)")
    total = sum((int(n) * _UNITS[u] for n, u in parts), dt.timedelta(0))
    if total <= dt.timedelta(0) or total > dt.timedelta(days=3660):
        raise ConfigError(f"{where}: {raw!r}: a duration is more than zero and at most ten years")
    return total


def _on_missed(raw: Any, where: str) -> str:
    if raw in ("cancel", "nothing"):
        return raw
    if isinstance(raw, dict) and set(raw) == {"escalate"} and raw["escalate"] in APPROVERS:
        return f"escalate:{raw['escalate']}"
    raise ConfigError(f"{where}: expected 'cancel', 'nothing' or {{escalate: csm | instructor}}, got {raw!r}")


def _approval(raw: Any, evidence: Evidence, where: str) -> tuple[str | None, float | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected {{by: instructor | csm}}")
    _unknown(raw, ("by", "auto_if_score_at_least"), where)
    if raw.get("by") not in APPROVERS:
        raise ConfigError(f"{where}: by: expected one of {list(APPROVERS)}, got {raw.get('by')!r}")
    auto = raw.get("auto_if_score_at_least")
    if auto is not None:
        if isinstance(auto, bool) or not isinstance(auto, (int, float)) or not math.isfinite(auto):
            raise ConfigError(f"{where}: auto_if_score_at_least: expected a number, got {auto!r}")
        if evidence.pass_mark is None:
            raise ConfigError(f"{where}: auto_if_score_at_least: the stage's evidence has no score")
    return raw["by"], None if auto is None else float(auto)


def _next(raw: Any, ids: list[str], index: int, approval_by: str | None, evidence: Evidence,
          where: str) -> tuple[Branch, ...]:
    if raw is None:
        return (Branch(None, ids[index + 1] if index + 1 < len(ids) else END),)
    if isinstance(raw, str):
        raw = [{"to": raw}]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a stage id, 'end', or a list of {{if: <condition>, to: <stage>}}")
    out = []
    for i, b in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(b, dict):
            raise ConfigError(f"{w}: expected {{if: <condition>, to: <stage>}}")
        _unknown(b, ("if", "to"), w)
        cond, to = b.get("if"), b.get("to")
        if cond is not None and cond not in BRANCH_CONDITIONS:
            raise ConfigError(f"{w}: if: expected one of {list(BRANCH_CONDITIONS)}, got {cond!r}")
        if cond in ("approved", "rejected") and approval_by is None:
            raise ConfigError(f"{w}: if: {cond!r} needs the stage to have an 'approval'")
        if cond in ("passed", "failed") and evidence.pass_mark is None:
            raise ConfigError(f"{w}: if: {cond!r} needs the stage's evidence to have a 'score'")
        if to != END and to not in ids:
            raise ConfigError(f"{w}: to: unknown stage {to!r}; the journey's stages: {ids} (or 'end')")
        if any(x.condition == cond for x in out):
            raise ConfigError(f"{w}: if: {cond or 'always'!r} appears twice")
        out.append(Branch(cond, to))
    return tuple(out)


def _check_graph(journey: Journey, where: str) -> None:
    """No cycle, except a second try (a branch on ``rejected``/``failed`` back to an earlier
    stage), and every stage reachable from the first."""
    order = {s.id: i for i, s in enumerate(journey.stages)}
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
        todo += [b.to for b in journey.stage(node).next if b.to != END]
    stranded = [s.id for s in journey.stages if s.id not in reached]
    if stranded:
        raise ConfigError(f"{where}: stage {stranded[0]!r}: no stage leads to it (the journey starts at "
                          f"{journey.stages[0].id!r})")


def _kinds(raw: Any, where: str) -> tuple[str, ...]:
    kinds = _list(raw, where)
    for k in kinds:
        if not isinstance(k, str) or not _ID.fullmatch(k):
            raise ConfigError(f"{where}: {k!r} is not an email kind (lower-case letters, digits, '-', '_')")
    return tuple(kinds)


def _list(raw: Any, where: str) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list")
    return raw


def _unknown(raw: dict, known: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {list(known)}")


def show_duration(d: dt.timedelta) -> str:
    """A duration as the journey file writes it: whole days as '3d', anything else in hours."""
    if d % dt.timedelta(days=1) == dt.timedelta(0):
        return f"{d.days}d"
    return f"{int(d.total_seconds() // 3600)}h"

