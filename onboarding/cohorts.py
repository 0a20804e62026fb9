"""Cohort configuration: one YAML file lists every cohort the pipeline runs.

The file is found at ``$ONBOARDING_COHORTS_FILE`` (default ``config/cohorts.yaml`` in the
project). Relative source paths are resolved against the file's own folder, so a config and its
exports can move together; a path outside that folder is refused unless a ``source_roots`` entry
allows its folder. Every problem is reported with the file, the cohort and the key it concerns;
a value that would fail later (a number out of range, a typo'd key, two addresses where one is
meant) is refused when the file is read. A cohort with a problem fails alone: the others run.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from onboarding import paths
from onboarding.addresses import ENCODED_WORD, is_plain_address
from onboarding.consent import CLASSES, DEFAULT_CLASSES, normalise_suppression
from onboarding.errors import ConfigError

WELCOME_TIMINGS = ("after_deadline", "on_completion")
# Every export a cohort may read, by role: the seed journey's signups and completions; a journey
# cohort's signups, its long events export, ``completions`` read as a wide export (a timestamp
# column per stage its journey names), its CSM roster (``csms``) and a support export (``queries``).
EXPORT_ROLES = ("signups", "completions", "events", "csms", "queries")
# The fields each source must map, and the ones it may map.
REQUIRED_COLUMNS = {"signups": ("email", "name"), "completions": ("email", "completed_at"),
                    # A journey's long export: one row per thing a customer did (README, "Journeys").
                    "events": ("email", "event", "at"),
                    # A journey's CSM roster (README, "How CSMs are assigned"); other columns are attributes.
                    "csms": ("email", "name", "capacity"),
                    # A support export: one row per ticket, a journey's queries (steps 15-16).
                    "queries": ("email", "asked_at")}
# A signup export with first and last name columns maps them instead of ``name``; with a
# ``first_name`` the customer's emails greet them by it.
OPTIONAL_COLUMNS = {"signups": ("signed_up_at", "first_name", "last_name", "consent"), "completions": ("name",),
                    "events": ("value", "link"), "csms": (), "queries": ("answered_at", "link")}
# Per source type: the options it needs and those it may have.
SOURCE_OPTIONS = {
    "csv": (("path",), ("delimiter", "encoding", "connection")),
    "sql": (("connection", "query"), ("parameters",)),
    "google_sheet": (("spreadsheet",), ("worksheet", "header_row", "connection")),
}
_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_DURATION_RE = re.compile(r"\s*(\d{1,6})\s*([dhm])\s*")
MAX_REMINDER_DAYS = 366
MAX_GRACE = dt.timedelta(days=366)
MAX_FILE_BYTES = 1 << 20  # a cohort file is a few kB; a larger one is refused before it is parsed
COHORT_KEYS = ("id", "title", "deadline", "timezone", "sender", "instructor", "sources", "reminder_days_before",
               "grace_period", "welcome_timing", "email_connection", "course_url", "next_steps", "guards",
               "instructor_sheet", "data_team", "email_classes", "suppress", "consent_wording", "retention_days",
               "journey")
TOP_KEYS = ("cohorts", "defaults", "source_roots", "journeys")


@dataclass(frozen=True)
class GuardConfig:
    """Limits of the guards that hold a run whose exports look wrong (``None`` turns one off); see
    ``onboarding.decisions.guards``."""

    max_source_age: dt.timedelta | None = dt.timedelta(hours=36)
    max_completion_shrink: float | None = 0.2
    max_cancel_share: float | None = 0.5


@dataclass(frozen=True)
class SourceConfig:
    """Where one export comes from and how its columns are named."""

    role: str  # one of EXPORT_ROLES
    type: str  # csv, sql or google_sheet
    columns: dict[str, str]  # our field -> the export's header
    options: dict[str, Any] = field(default_factory=dict)  # type-specific (path, encoding, ...)
    timezone: str | None = None  # for timestamps written without an offset
    # strftime format, 'iso' or 'excel_serial', or a tuple of them tried in order; ISO 8601 when unset
    timestamp_format: str | tuple[str, ...] | None = None
    # A journey cohort's wide export: the timestamp fields its stages' evidence names (a cell per stage).
    timestamps: tuple[str, ...] = ()
    # Fields read as attributes (a CSM's language; a customer's, for ``csm_match``): text, one line.
    attributes: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        if self.type == "sql":
            return f"sql:{self.options.get('connection')}/{self.options.get('query')}"
        if self.type == "google_sheet":
            ws = self.options.get("worksheet")
            return f"google-sheet:{self.options.get('spreadsheet')}" + (f" [{ws}]" if ws else "")
        return str(self.options.get("path") or self.type)


@dataclass(frozen=True)
class Cohort:
    id: str
    title: str
    deadline: dt.date
    timezone: str
    sender: str
    instructor: str
    signups: SourceConfig
    completions: SourceConfig | None  # None for a multi-stage journey's cohort, which reads ``events``
    reminder_days_before: int = 3
    grace_period: dt.timedelta = dt.timedelta(0)
    welcome_timing: str = "after_deadline"
    email_connection: str = "onboarding_email"
    course_url: str | None = None
    next_steps: tuple[str, ...] = ()
    guards: GuardConfig = GuardConfig()
    # The instructor's Google Sheet: {"spreadsheet": id or URL, "connection": Airflow conn id}
    instructor_sheet: dict[str, str] | None = None
    data_team: tuple[str, ...] = ()  # also told when a run is held or fails
    # Each email kind's class (transactional or marketing): an unsubscribe stops marketing only.
    email_classes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CLASSES))
    suppress: tuple[str, ...] = ()  # addresses or '@domains' never emailed (the file's own suppression list)
    consent_wording: str | None = None  # the version of the consent text the signup form showed
    retention_days: int = 400  # run folders (input snapshots, reports) older than this are deleted
    journey: str = "seed"  # the journey its customers go through (onboarding.journeys); seed: the original process
    events: SourceConfig | None = None  # a journey's long export: email, event, at, value
    csms: SourceConfig | None = None  # a journey's CSM roster as an export (instead of the journey file's)
    queries: SourceConfig | None = None  # a journey's support export: its customers' queries, one row each
    journey_spec: Any = None  # the journey itself (onboarding.journeys.Journey), set when the file is read

    @property
    def exports(self) -> tuple[SourceConfig, ...]:
        """The exports the cohort reads, signups first: signups and completions for the seed
        journey; for the others signups and what their journey reads (the events export, a wide
        completions export, a CSM roster, a support export)."""
        return tuple(c for c in (self.signups, self.completions, self.events, self.csms, self.queries)
                     if c is not None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def deadline_at(self) -> dt.datetime:
        """The instant the deadline passes: end of the deadline date in the cohort's zone, plus grace."""
        next_day = dt.datetime.combine(self.deadline + dt.timedelta(days=1), dt.time(0), self.tz)
        return next_day + self.grace_period

    @property
    def reminder_window_start(self) -> dt.datetime:
        """Reminders go out from the start of the day N days before the deadline date."""
        day = self.deadline - dt.timedelta(days=self.reminder_days_before)
        return dt.datetime.combine(day, dt.time(0), self.tz)

    def deadline_display(self) -> str:
        """The deadline as the customer reads it: the last day, in the cohort's zone."""
        end = self.deadline_at - dt.timedelta(microseconds=1)
        return f"{end:%A %d %B %Y}, {end:%H:%M} ({self.timezone})"


def parse_duration(value: Any, where: str, limit: dt.timedelta = MAX_GRACE) -> dt.timedelta:
    """'36h', '2d', '90m' or 0, at most ``limit``."""
    if value is None or (not isinstance(value, bool) and value in (0, "0", "")):
        return dt.timedelta(0)
    m = _DURATION_RE.fullmatch(str(value)) if not isinstance(value, bool) else None
    if not m:
        raise ConfigError(f"{where}: {value!r} is not a duration like '12h', '2d' or '30m'")
    n, unit = int(m.group(1)), m.group(2)
    duration = {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[unit]
    if duration > limit:
        raise ConfigError(f"{where}: {value!r} is longer than {limit.days} days")
    return duration


def check_address(value: Any, where: str) -> str:
    """One email address, optionally with a display name ('Team <team@example.edu>'): never two,
    never an encoded word, never a line break."""
    from email.utils import getaddresses

    text = str(value) if isinstance(value, str) else ""
    pairs = getaddresses([text]) if text and not any(c in text for c in "\r\n") else []
    if (len(pairs) != 1 or not is_plain_address(pairs[0][1].lower()) or ENCODED_WORD.search(text)
            or len(text) > 320):
        raise ConfigError(f"{where}: {value!r} is not an email address (one address, optionally with a name)")
    return text


def _check_tz(name: Any, where: str) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {name!r} (use an IANA name like 'Australia/Sydney')") from None
    return str(name)


def _source(raw: Any, role: str, base: Path, where: str, roots: tuple[Path, ...],
            fields: tuple[tuple[str, ...], tuple[str, ...]] | None = None, wide: tuple[str, ...] = (),
            attributes: tuple[str, ...] | None = ()) -> SourceConfig:
    """One export's configuration. ``fields`` (required, optional) replaces the role's own (a
    journey's wide export); ``wide`` are its timestamp fields; ``attributes`` the fields read as
    attributes (``None``: any further field is one, as in a CSM roster)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with 'type' and 'columns'")
    raw = dict(raw)
    stype = str(raw.pop("type", "csv"))
    columns = raw.pop("columns", None)
    if not isinstance(columns, dict):
        raise ConfigError(f"{where}.columns: expected a mapping of field -> export column name")
    if columns.get("last_name") and not columns.get("first_name"):
        raise ConfigError(f"{where}.columns: last_name is mapped without first_name")
    required, optional = fields or (REQUIRED_COLUMNS[role], OPTIONAL_COLUMNS[role])
    # A whole name, or a first name (with an optional last name) to make it from.
    missing = [c for c in required if not columns.get(c)
               and not (c == "name" and columns.get("first_name"))]
    if missing:
        raise ConfigError(f"{where}.columns: {', '.join(missing)} must be mapped")
    if attributes is None:  # a roster: every further field is an attribute of the CSM
        attributes = tuple(sorted(set(columns) - set(required) - set(optional)))
        bad = [a for a in attributes if not _ID_RE.fullmatch(str(a))]
        if bad:
            raise ConfigError(f"{where}.columns: {bad} are not attribute names (lower-case letters, digits, '_')")
    unknown = set(columns) - set(required) - set(optional) - set(attributes)
    if unknown:
        raise ConfigError(f"{where}.columns: unknown field(s) {sorted(unknown)}; "
                          f"known: {list(required + optional + tuple(attributes))}")
    tz = raw.pop("timezone", None)
    if tz is not None:
        tz = _check_tz(tz, f"{where}.timezone")
    fmt = raw.pop("timestamp_format", None)
    if fmt is not None:
        formats = [fmt] if isinstance(fmt, str) else fmt
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
            raise ConfigError(f"{where}.timestamp_format: expected a format ('%d/%m/%Y %H:%M', 'iso', "
                              f"'excel_serial') or a list of them")
        fmt = formats[0] if len(formats) == 1 else tuple(formats)
    if stype not in SOURCE_OPTIONS:
        raise ConfigError(f"{where}.type: {stype!r} is not one of {list(SOURCE_OPTIONS)}")
    need, allowed = SOURCE_OPTIONS[stype]
    missing = [k for k in need if not raw.get(k)]
    if missing:
        raise ConfigError(f"{where}: a {stype} source needs {', '.join(repr(k) for k in missing)}")
    unknown = set(raw) - set(need) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} for a {stype} source; "
                          f"known: {sorted(set(need) | set(allowed))}")
    if "path" in raw and "://" not in str(raw["path"]):
        p = Path(os.path.expandvars(str(raw["path"])))
        p = (p if p.is_absolute() else base / p).resolve()
        if not any(p == r or r in p.parents for r in roots):
            raise ConfigError(f"{where}.path: {p} is outside the cohort file's folder ({base}); list its folder "
                              f"under source_roots if it may be read")
        raw["path"] = str(p)
    if "header_row" in raw and (not isinstance(raw["header_row"], int) or raw["header_row"] < 1):
        raise ConfigError(f"{where}.header_row: expected a row number (1 or more)")
    if "parameters" in raw and not isinstance(raw["parameters"], dict):
        raise ConfigError(f"{where}.parameters: expected a mapping of query parameter -> value")
    return SourceConfig(role=role, type=stype, columns={k: str(v) for k, v in columns.items()},
                        options=raw, timezone=tz, timestamp_format=fmt, timestamps=tuple(wide),
                        attributes=tuple(a for a in attributes if a in columns))


def _cohort(raw: Any, defaults: dict, base: Path, where: str, roots: tuple[Path, ...],
            journeys: tuple[dict, str | None] = ({}, None)) -> Cohort:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    merged = {**defaults, **raw}
    cid = merged.get("id", "")
    if not isinstance(cid, str) or not _ID_RE.fullmatch(cid):
        raise ConfigError(f"{where}.id: {cid!r} must be lower-case letters, digits, '-' or '_'")
    where = f"cohort {cid!r}"
    unknown = sorted(set(raw) - set(COHORT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {list(COHORT_KEYS)}")
    for key in ("title", "deadline", "timezone", "sender", "instructor", "sources"):
        if merged.get(key) in (None, ""):
            raise ConfigError(f"{where}: '{key}' is required")
    deadline = merged["deadline"]
    if isinstance(deadline, str):
        try:
            deadline = dt.date.fromisoformat(deadline)
        except ValueError:
            raise ConfigError(f"{where}.deadline: {deadline!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(deadline, dt.datetime) or not isinstance(deadline, dt.date):
        raise ConfigError(f"{where}.deadline: expected a date (YYYY-MM-DD); the time is always end of day")
    days = merged.get("reminder_days_before", 3)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_REMINDER_DAYS:
        raise ConfigError(f"{where}.reminder_days_before: expected a whole number of days from 0 to "
                          f"{MAX_REMINDER_DAYS}, not {days!r}")
    timing = merged.get("welcome_timing", "after_deadline")
    if timing not in WELCOME_TIMINGS:
        raise ConfigError(f"{where}.welcome_timing: {timing!r} is not one of {WELCOME_TIMINGS}")
    sources = merged["sources"]
    journey = _journey_id(merged.get("journey", "seed"), f"{where}.journey")
    known, journey_error = journeys
    if journey != "seed" and journey not in known:
        # A broken journey file stops only the cohorts that use one of its journeys.
        raise ConfigError(journey_error or f"{where}.journey: unknown journey {journey!r}; known: {sorted(known)}")
    spec = known.get(journey)
    roles, optional_roles = _roles(spec)
    if not isinstance(sources, dict) or not roles <= set(sources) or not set(sources) <= roles | optional_roles:
        raise ConfigError(f"{where}.sources: expected exactly {' and '.join(repr(r) for r in sorted(roles, reverse=True))}"
                          + (f" (and optionally {sorted(optional_roles)})" if optional_roles else "")
                          + ("" if journey == "seed" else f" (what journey {journey!r} reads)"))
    if spec is not None and spec.queries is not None and not {"events", "queries"} & set(sources):
        raise ConfigError(f"{where}.sources: journey {journey!r} routes queries: give the cohort an 'events' export "
                          f"(events {spec.queries.asked!r} and {spec.queries.answered!r}) or a 'queries' export "
                          f"(a support export: email, asked_at, answered_at, link)")
    if spec is not None and spec.csms_per_cohort and "csms" not in sources:
        raise ConfigError(f"{where}.sources: journey {journey!r} takes its CSM roster from each cohort ('csms: "
                          f"per_cohort'): give the cohort a 'csms' source (email, name, capacity, attributes)")
    for key in ("sender", "instructor"):
        check_address(merged[key], f"{where}.{key}")
    if any(c in str(merged["title"]) for c in "\r\n") or len(str(merged["title"])) > 200:
        raise ConfigError(f"{where}.title: expected one line of at most 200 characters")
    return Cohort(
        id=cid,
        title=str(merged["title"]),
        deadline=deadline,
        timezone=_check_tz(merged["timezone"], f"{where}.timezone"),
        sender=str(merged["sender"]),
        instructor=str(merged["instructor"]),
        signups=_source(sources["signups"], "signups", base, f"{where}.sources.signups", roots,
                        attributes=spec.csm_match if spec is not None and journey != "seed" else ()),
        completions=(None if "completions" not in sources else
                     _source(sources["completions"], "completions", base, f"{where}.sources.completions", roots)
                     if journey == "seed" else
                     _source(sources["completions"], "completions", base, f"{where}.sources.completions", roots,
                             (("email", *_wide_fields(spec)), ("name",)), _wide_fields(spec))),
        events=_source(sources["events"], "events", base, f"{where}.sources.events", roots) if "events" in sources else None,
        csms=_roster_source(sources, spec, base, f"{where}.sources.csms", roots),
        queries=(_source(sources["queries"], "queries", base, f"{where}.sources.queries", roots,
                         wide=("asked_at", "answered_at")) if "queries" in sources else None),
        reminder_days_before=days,
        grace_period=parse_duration(merged.get("grace_period"), f"{where}.grace_period"),
        welcome_timing=timing,
        email_connection=str(merged.get("email_connection", "onboarding_email")),
        course_url=merged.get("course_url"),
        next_steps=tuple(str(s) for s in merged.get("next_steps", ()) or ()),
        guards=_guards(merged.get("guards"), f"{where}.guards"),
        instructor_sheet=_instructor_sheet(merged.get("instructor_sheet"), f"{where}.instructor_sheet"),
        data_team=_addresses(merged.get("data_team"), f"{where}.data_team"),
        email_classes=_email_classes(merged.get("email_classes"), f"{where}.email_classes", journey),
        suppress=_suppress(merged.get("suppress"), f"{where}.suppress"),
        consent_wording=_one_line(merged.get("consent_wording"), f"{where}.consent_wording"),
        retention_days=_retention(merged.get("retention_days", 400), f"{where}.retention_days"),
        journey=journey,
    )


def _roster_source(sources: dict, journey: Any, base: Path, where: str, roots: tuple[Path, ...]) -> SourceConfig | None:
    """A cohort's CSM roster export: email, name, capacity, and every further column an attribute;
    each attribute the journey matches customers on must be one of them."""
    if "csms" not in sources:
        return None
    cfg = _source(sources["csms"], "csms", base, where, roots, attributes=None)
    missing = [k for k in journey.csm_match if k not in cfg.attributes]
    if missing:
        raise ConfigError(f"{where}.columns: journey {journey.id!r} matches customers to CSMs on {missing}: map "
                          f"{'it' if len(missing) == 1 else 'them'} to the roster's column(s)")
    return cfg


def _wide_fields(journey: Any) -> tuple[str, ...]:
    """The timestamp columns a journey's stages read from its wide export, in stage order."""
    return tuple(dict.fromkeys(s.evidence.column for s in journey.stages if s.evidence.column))


def _roles(journey: Any) -> tuple[set[str], set[str]]:
    """The exports a cohort of this journey must read, and those it may: the seed journey reads
    signups and completions; another journey signups, the events export when a stage (or its
    queries) reads events, the wide completions export when a stage reads a column, and may
    read its CSM roster from a ``csms`` export; a journey routing queries reads them from the events
    export or from a support export (``queries``)."""
    if journey is None or journey.id == "seed":
        return {"signups", "completions"}, set()
    roles, optional = {"signups"}, {"csms"}
    if any(s.evidence.event for s in journey.stages):
        roles.add("events")
    if _wide_fields(journey):
        roles.add("completions")
    if journey.queries is not None:
        optional |= {"queries"} | ({"events"} - roles)
    return roles, optional


def _journey_id(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not _ID_RE.fullmatch(raw):
        raise ConfigError(f"{where}: expected a journey id, not {raw!r}")
    return raw


def _retention(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 3650:
        raise ConfigError(f"{where}: expected a whole number of days from 1 to 3650, not {raw!r}")
    return raw


def _one_line(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    text = str(raw)
    if any(c in text for c in "\r\n") or len(text) > 200:
        raise ConfigError(f"{where}: expected one line of at most 200 characters")
    return text


def _email_classes(raw: Any, where: str, journey: str = "seed") -> dict[str, str]:
    """Every kind's class: the defaults, overridden per kind (a journey's cohort may class its
    stages' kinds too, by the kind's name: ``advanced_offer: marketing``)."""
    defaults = DEFAULT_CLASSES

    if raw is None:
        return dict(defaults)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of email kind -> transactional or marketing")
    unknown = sorted(str(k) for k in set(raw) - set(defaults))
    if unknown and journey == "seed":
        raise ConfigError(f"{where}: unknown email kind(s) {unknown}; known: {list(defaults)}")
    if any(not _ID_RE.fullmatch(k) for k in unknown):
        raise ConfigError(f"{where}: {unknown} are not all email kinds (lower-case letters, digits, '-', '_')")
    bad = {k: v for k, v in raw.items() if v not in CLASSES}
    if bad:
        raise ConfigError(f"{where}: {bad} must each be one of {list(CLASSES)}")
    return {**defaults, **raw}


def _suppress(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list of email addresses or domains (@example.org)")
    try:
        return tuple(normalise_suppression(str(a)) for a in raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _instructor_sheet(raw: Any, where: str) -> dict[str, str] | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        raw = {"spreadsheet": raw}
    if not isinstance(raw, dict) or not raw.get("spreadsheet"):
        raise ConfigError(f"{where}: expected a spreadsheet id or URL, or a mapping with 'spreadsheet' "
                          f"(and optionally 'connection')")
    unknown = set(raw) - {"spreadsheet", "connection"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    from onboarding.google_api import spreadsheet_key

    try:
        spreadsheet_key(str(raw["spreadsheet"]))
    except ValueError as exc:
        raise ConfigError(f"{where}.spreadsheet: {exc}") from None
    return {"spreadsheet": str(raw["spreadsheet"]), "connection": str(raw.get("connection", "onboarding_google"))}


def _addresses(raw: Any, where: str) -> tuple[str, ...]:
    """Bare addresses (``ops@example.edu``), one or a list."""
    if raw in (None, ""):
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(a, str) and is_plain_address(a.strip().lower())
                                              for a in items):
        raise ConfigError(f"{where}: expected an email address or a list of them")
    return tuple(a.strip().lower() for a in items)


def _guards(raw: Any, where: str):
    """Guard limits; a key set to null turns that guard off."""
    if raw is None:
        return GuardConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(raw) - {"max_source_age", "max_completion_shrink", "max_cancel_share"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    base = GuardConfig()
    age = raw.get("max_source_age", "keep")
    shares = {}
    for key in ("max_completion_shrink", "max_cancel_share"):
        v = raw.get(key, getattr(base, key))
        if v is not None and not (isinstance(v, (int, float)) and 0 <= v <= 1):
            raise ConfigError(f"{where}.{key}: {v!r} must be a share between 0 and 1, or null")
        shares[key] = v
    return GuardConfig(
        max_source_age=base.max_source_age if age == "keep" else (None if age is None else
                                                                  parse_duration(age, f"{where}.max_source_age")),
        **shares)


@dataclass(frozen=True)
class CohortFile:
    """The cohort file as read: the cohorts that are well configured, and the problem of each that
    is not (keyed by its id, or ``cohorts[i]`` when even that is unreadable)."""

    path: Path
    cohorts: dict[str, Cohort]
    broken: dict[str, str]
    order: tuple[str, ...] = ()  # every cohort's id (or label), in file order
    senders: dict[str, str] = field(default_factory=dict)  # every cohort's sender that is one valid address
    journeys: dict[str, Any] = field(default_factory=dict)  # id -> onboarding.journeys.Journey, seed included

    def sender_for(self, cohort_id: str | None) -> tuple[str | None, str | None]:
        """Who sends on a cohort's behalf when nothing else is set: its own sender, else the first
        cohort's that has one (even a broken cohort's, when its sender is fine); and whose it is."""
        if cohort_id in self.senders:
            return self.senders[cohort_id], cohort_id
        first = next(iter(self.senders.items()), None)
        return (first[1], first[0]) if first else (None, None)


def read_yaml(path: Path) -> Any:
    """A YAML document, read safely: no tags, no aliases (a few lines of aliases can expand into
    gigabytes), at most 1 MB."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
            if self.check_event(yaml.events.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in this file",
                                                  event.start_mark)
            return super().compose_node(parent, index)

    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: the file is {len(data):,} bytes; a cohort file is at most {MAX_FILE_BYTES:,}")
    try:
        return yaml.load(data.decode("utf-8"), Loader=NoAliases)  # noqa: S506 - NoAliases is a SafeLoader
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def read_cohort_file(path: str | Path | None = None) -> CohortFile:
    """Read and check the cohort file. A problem with the file as a whole raises ``ConfigError``;
    a problem with one cohort is recorded in ``broken`` and the others are kept."""
    path = Path(path or paths.cohorts_file())
    try:
        doc = read_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: cohort configuration file not found "
                          f"(set ONBOARDING_COHORTS_FILE to its path)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cohorts"), list) or not doc["cohorts"]:
        raise ConfigError(f"{path}: expected a top-level 'cohorts:' list with at least one cohort")
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; known: {list(TOP_KEYS)}")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: 'defaults' must be a mapping")
    unknown = sorted(set(defaults) - set(COHORT_KEYS) - {"id"})
    if unknown:
        raise ConfigError(f"{path}: defaults: unknown key(s) {unknown}; known: {list(COHORT_KEYS)}")
    roots = doc.get("source_roots") or []
    if not isinstance(roots, list) or not all(isinstance(r, str) and r for r in roots):
        raise ConfigError(f"{path}: source_roots: expected a list of folders (relative to this file)")
    base = path.parent.resolve()
    allowed = (base, *((base / os.path.expandvars(r)).resolve() for r in roots))
    journeys, journey_error = _journeys(doc.get("journeys"), path)
    cohorts: dict[str, Cohort] = {}
    broken: dict[str, str] = {}
    order: list[str] = []
    senders: dict[str, str] = {}
    for i, raw in enumerate(doc["cohorts"]):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        label = raw_id if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else f"cohorts[{i}]"
        try:
            senders[label] = check_address({**defaults, **(raw if isinstance(raw, dict) else {})}.get("sender"), "")
        except ConfigError:
            pass
        try:
            c = _cohort(raw, defaults, base, f"cohorts[{i}]", allowed, (journeys, journey_error))
            if c.id in cohorts or c.id in broken:
                raise ConfigError(f"cohort id {c.id!r} appears twice")
            if c.journey not in journeys:
                # A broken journey file stops only the cohorts that use one of its journeys.
                raise ConfigError(journey_error or f"cohort {c.id!r}.journey: unknown journey {c.journey!r}; "
                                                   f"known: {sorted(journeys)}")
        except ConfigError as exc:
            if label not in broken:
                order.append(label)
            broken.setdefault(label, f"{path}: {exc}")
            continue
        cohorts[c.id] = replace(c, journey_spec=journeys.get(c.journey))
        order.append(c.id)
    return CohortFile(path, cohorts, broken, tuple(order), senders, journeys)


def _journeys(name: Any, path: Path) -> tuple[dict[str, Any], str | None]:
    """The journeys of the file the cohort file names (``journeys: journeys.yaml``), with the
    built-in ``seed``; and, when that file is broken, why (only the cohorts using it fail)."""
    from onboarding.journeys import SEED, SEED_ID, journeys_from

    if name is None:
        return {SEED_ID: SEED}, None
    if not isinstance(name, str) or not name.strip():
        return {SEED_ID: SEED}, f"journeys: expected the journey file's name, got {name!r}"
    jpath = path.parent / name
    try:
        return journeys_from(read_yaml(jpath), jpath), None
    except FileNotFoundError:
        return {SEED_ID: SEED}, f"journeys: {jpath}: journey file not found"
    except ConfigError as exc:
        return {SEED_ID: SEED}, str(exc)


def load_cohorts(path: str | Path | None = None) -> dict[str, Cohort]:
    """Every cohort of the file, in file order, keyed by id; any problem raises ``ConfigError``
    (the nightly run uses ``read_cohort_file``, so that one bad cohort fails alone)."""
    found = read_cohort_file(path)
    if found.broken:
        raise ConfigError(next(iter(found.broken.values())))
    return found.cohorts


def select_cohorts(cohorts: dict[str, Any], wanted: str | None) -> list[Any]:
    """'all' (or empty) selects every cohort; otherwise a comma-separated list of ids."""
    if not wanted or wanted.strip().lower() == "all":
        return list(cohorts.values())
    ids = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [i for i in ids if i not in cohorts]
    if unknown:
        raise ConfigError(f"unknown cohort(s) {unknown}; configured: {list(cohorts)}")
    return [cohorts[i] for i in ids]


def cohort_choices() -> dict[str, str]:
    """Cohort id -> title, for the trigger form's drop-down (read when the DAG file is parsed, as
    Airflow's own params example reads its choices; only YAML, no connection). Empty if the file
    cannot be read: the run itself then reports the configuration error."""
    try:
        doc = read_yaml(paths.cohorts_file()) or {}
        return {str(c["id"]): str(c.get("title") or c["id"]) for c in doc.get("cohorts") or []
                if isinstance(c, dict) and isinstance(c.get("id"), str) and _ID_RE.fullmatch(c["id"])}
    except Exception:  # noqa: BLE001 - the form falls back to free text
        return {}


def fingerprint(cohort: Cohort) -> dict:
    """The cohort's configuration as a run used it, recorded with the run's inputs (a replay says
    when it has changed since)."""
    import json
    from dataclasses import asdict

    out = json.loads(json.dumps(asdict(cohort), default=str))
    if out.get("journey") == "seed":
        # Runs recorded before journeys existed have no such key: the seed journey is what they ran.
        del out["journey"]
        out.pop("journey_spec", None)
    for role in ("events", "csms"):
        if out.get(role) is None:
            out.pop(role, None)
    for role in EXPORT_ROLES:  # fields added later, recorded only where used (older runs compare the same)
        for key in ("timestamps", "attributes"):
            if isinstance(out.get(role), dict) and not out[role].get(key):
                out[role].pop(key, None)
    return out
