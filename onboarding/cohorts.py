"""Cohort configuration: one YAML file lists every cohort the pipeline runs.

The file is found at ``$ONBOARDING_COHORTS_FILE`` (default ``config/cohorts.yaml`` in the
project). Its shape is the typed model ``CohortsDocument`` (a cohort: ``CohortSpec``; an export:
each source type's own model in ``onboarding.sources``), published as ``schemas/cohorts.schema.json``
for editors. Relative source paths are resolved against the file's own folder, so a config and
its exports can move together; a path outside that folder is refused unless a ``source_roots``
entry allows its folder. Every problem is reported with the file, the cohort and the key it
concerns; a value that would fail later (a number out of range, a typo'd key, two addresses where
one is meant) is refused when the file is read. A cohort with a problem fails alone: the others run.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Discriminator, Tag, TypeAdapter, ValidationError

from onboarding import paths
from onboarding.addresses import ENCODED_WORD, is_plain_address
from onboarding.configmodel import ID_RE, TAG, Date, FileModel, Id, Text, config_error, one_line, typed, whole
from onboarding.consent import CLASSES, TRANSACTIONAL, normalise_suppression
from onboarding.errors import ConfigError
from onboarding.journeys import SEED, SEED_ID, Journey, journeys_from
from onboarding.languages import NAMES as DATE_LANGUAGES, normalise_language
from onboarding.sources.config import SourceConfig, SourceSpec, TimeZone
from onboarding.sources.csv_source import CsvSpec
from onboarding.sources.sheet_source import SheetSpec
from onboarding.sources.sql_source import SqlSpec

# Every email of the seed journey (``journeys.SEED``) is what the customer's own signup asks for,
# unless the cohort file classes it otherwise (``email_classes``).
DEFAULT_CLASSES = {kind: TRANSACTIONAL for kind in SEED.ledger_kinds()}

__all__ = ["Cohort", "CohortFile", "CohortSpec", "CohortsDocument", "GuardConfig", "SourceConfig", "fingerprint",
           "load_cohorts", "read_cohort_file", "read_yaml", "select_cohorts"]

# Every export a cohort may read, by role: the seed journey's signups and completions; a journey
# cohort's signups, its long events export, ``completions`` read as a wide export (a timestamp
# column per stage its journey names), its CSM roster (``csms``) and a support export (``queries``).
EXPORT_ROLES = ("signups", "completions", "events", "csms", "queries")
# The fields each source must map, and the ones it may map.
REQUIRED_COLUMNS = {"signups": ("email", "name"), "completions": ("email", "completed_at"),
                    # A journey's long export: one row per thing a customer did (docs/journeys/index.md).
                    "events": ("email", "event", "at"),
                    # A journey's CSM roster (docs/journeys/index.md, "How CSMs are assigned"); other columns are attributes.
                    "csms": ("email", "name", "capacity"),
                    # A support export: one row per ticket, a journey's queries (steps 15-16).
                    "queries": ("email", "asked_at")}
# A signup export with first and last name columns maps them instead of ``name``; with a
# ``first_name`` the customer's emails greet them by it.
OPTIONAL_COLUMNS = {"signups": ("signed_up_at", "first_name", "last_name", "consent"), "completions": ("name",),
                    "events": ("value", "link"), "csms": (), "queries": ("answered_at", "link")}
# Each source type's model, by the ``type`` that names it (a source without ``type`` is a csv).
SOURCE_SPECS: dict[str, type[SourceSpec]] = {s.model_fields["type"].default: s for s in (CsvSpec, SqlSpec, SheetSpec)}
LANGUAGE = "language"  # the customer attribute that chooses their emails' language
_DURATION_RE = re.compile(r"\s*(\d{1,6})\s*([dhm])\s*")
MAX_GRACE = dt.timedelta(days=366)
MAX_FILE_BYTES = 1 << 20  # a cohort file is a few kB; a larger one is refused before it is parsed
MAX_NESTING = 64  # a journey's stage is about six levels deep; deeper is a broken (or hostile) file


@dataclass(frozen=True)
class GuardConfig:
    """Limits of the guards that hold a run whose exports look wrong (``None`` turns one off); see
    ``onboarding.decisions.guards``."""

    max_source_age: dt.timedelta | None = dt.timedelta(hours=36)
    max_completion_shrink: float | None = 0.2
    max_cancel_share: float | None = 0.5


@dataclass(frozen=True)
class Cohort:
    """A cohort as the pipeline uses it: its file's ``CohortSpec`` with its exports resolved
    (paths checked, fields per role) and its journey attached."""

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
    journey: str = SEED_ID  # the journey its customers go through (onboarding.journeys); seed: the original process
    events: SourceConfig | None = None  # a journey's long export: email, event, at, value
    csms: SourceConfig | None = None  # a journey's CSM roster as an export (instead of the journey file's)
    queries: SourceConfig | None = None  # a journey's support export: its customers' queries, one row each
    journey_spec: Journey | None = None  # the journey itself (None only for a cohort built by hand: seed)
    locale: str | None = None  # the instructor's summary and page write dates in it ('de-DE'); None: English
    templates: str | None = None  # the cohort file's template folder (absolute), searched before the built-in

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
        """The deadline as the instructor reads it: the last day, in the cohort's zone, its names in
        the cohort's ``locale`` (customers' emails write it in their own language)."""
        from onboarding.languages import locale_language, long_datetime

        end = self.deadline_at - dt.timedelta(microseconds=1)
        return f"{long_datetime(end, locale_language(self.locale))} ({self.timezone})"

    def local_time(self, when: dt.datetime, fmt: str) -> str:
        """``when`` in the cohort's zone as ``strftime(fmt)`` writes it, the day and month names in
        the cohort's ``locale`` (the instructor's summary)."""
        from onboarding.languages import locale_language, strftime

        return strftime(when.astimezone(self.tz), fmt, locale_language(self.locale))


def parse_duration(value: Any, where: str, limit: dt.timedelta = MAX_GRACE) -> dt.timedelta:
    """'36h', '2d', '90m' or 0, at most ``limit``."""
    try:
        return _duration(value, limit)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _duration(value: Any, limit: dt.timedelta = MAX_GRACE) -> dt.timedelta:
    if value is None or (not isinstance(value, bool) and value in (0, "0", "")):
        return dt.timedelta(0)
    m = _DURATION_RE.fullmatch(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not m:
        raise ValueError(f"{value!r} is not a duration like '12h', '2d' or '30m'")
    n, unit = int(m.group(1)), m.group(2)
    duration = {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[unit]
    if duration > limit:
        raise ValueError(f"{value!r} is longer than {limit.days} days")
    return duration


def check_address(value: Any, where: str) -> str:
    """One email address, optionally with a display name ('Team <team@example.edu>'): never two,
    never an encoded word, never a line break."""
    try:
        return _address(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _address(value: Any) -> str:
    from email.utils import getaddresses

    text = str(value) if isinstance(value, str) else ""
    pairs = getaddresses([text]) if text and not any(c in text for c in "\r\n") else []
    if (len(pairs) != 1 or not is_plain_address(pairs[0][1].lower()) or ENCODED_WORD.search(text)
            or len(text) > 320):
        raise ValueError(f"{value!r} is not an email address (one address, optionally with a name)")
    return text


def _addresses(value: Any) -> tuple[str, ...]:
    """Bare addresses (``ops@example.edu``), one or a list."""
    if value in (None, ""):
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(a, str) and is_plain_address(a.strip().lower())
                                              for a in items):
        raise ValueError("expected an email address or a list of them")
    return tuple(a.strip().lower() for a in items)


def _share(value: Any) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1):
        raise ValueError(f"{value!r} must be a share between 0 and 1, or null")
    return value


def _suppress(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("expected a list of email addresses or domains (@example.org)")
    return tuple(normalise_suppression(str(a)) for a in value)


def _classes(value: Any) -> dict[str, str]:
    """Email kind -> class (the seed journey's kinds only: checked with the journey)."""
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of email kind -> transactional or marketing")
    if any(not isinstance(k, str) or not ID_RE.fullmatch(k) for k in value):
        raise ValueError(f"{sorted(map(str, value))} are not all email kinds (lower-case letters, digits, '-', '_')")
    bad = {k: v for k, v in value.items() if v not in CLASSES}
    if bad:
        raise ValueError(f"{bad} must each be one of {list(CLASSES)}")
    return value


def _locale(value: Any) -> str:
    """A locale whose dates the summary and the page can write (``de-DE``, ``de``, ``en``)."""
    lang = normalise_language(value)
    if lang is None or lang not in DATE_LANGUAGES:
        raise ValueError(f"{value!r} is not a locale the reports can write dates in; known: "
                         f"{sorted(DATE_LANGUAGES)} (like de-DE)")
    return value.strip()


def _spreadsheet(value: Any) -> str:
    from onboarding.google_api import spreadsheet_key

    if not isinstance(value, str) or not value:
        raise ValueError("expected a spreadsheet id or URL")
    spreadsheet_key(value)
    return value


_DURATION_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^\s*\d{1,6}\s*[dhm]\s*$"}, {"const": 0}],
                    "$comment": "duration (like 36h, 2d or 90m)"}
Duration = typed(dt.timedelta, _duration, _DURATION_SCHEMA)
Address = typed(str, _address, {"type": "string", "description": "one address, optionally with a name"})
Share = typed(float, _share, {"type": ["number", "null"], "minimum": 0, "maximum": 1})


def _source_type(value: Any) -> str:
    """Which source type's model reads an export (a mapping without ``type`` is a csv)."""
    kind = value.get("type", "csv") if isinstance(value, dict) else getattr(value, "type", "csv")
    return f"{TAG}{kind}"


AnySource = Annotated[Union[tuple(Annotated[spec, Tag(f"{TAG}{kind}")] for kind, spec in SOURCE_SPECS.items())],
                      Discriminator(_source_type)]


class Guards(FileModel):
    """Guard limits; a key set to null turns that guard off."""

    max_source_age: Duration | None = dt.timedelta(hours=36)
    """Hold when an export is older than this (null: off)."""
    max_completion_shrink: Share = 0.2
    """Hold when completions shrink by more than this share (null: off)."""
    max_cancel_share: Share = 0.5
    """Hold when more than this share would be cancelled (null: off)."""


class InstructorSheet(FileModel):
    """The instructor's Google Sheet: its id or URL (``instructor_sheet: <id>`` is short for
    ``{spreadsheet: <id>}``), and the Airflow connection that writes it."""

    spreadsheet: typed(str, _spreadsheet, {"type": "string", "description": "a spreadsheet id or URL"})
    """The sheet's id or URL."""
    connection: Text = "onboarding_google"
    """Airflow connection with the Google credentials."""


def _sheet_shorthand(value: Any) -> Any:
    if value in (None, ""):
        return None
    if not isinstance(value, (str, dict)):
        raise ValueError("expected a spreadsheet id or URL, or a mapping with 'spreadsheet' (and optionally "
                         "'connection')")
    return {"spreadsheet": value} if isinstance(value, str) else value


class Sources(FileModel):
    """A cohort's exports, by role: which ones it must give depends on its journey."""

    signups: AnySource
    """Who signed up (every cohort)."""
    completions: AnySource | None = None
    """Completions: the seed journey's, or a journey's wide export (a timestamp column per stage)."""
    events: AnySource | None = None
    """A journey's long export: email, event, at, value, link."""
    csms: AnySource | None = None
    """A journey's CSM roster, every further column an attribute."""
    queries: AnySource | None = None
    """A support export: email, asked_at, answered_at, link."""

    def given(self) -> dict[str, SourceSpec]:
        return {role: getattr(self, role) for role in EXPORT_ROLES if getattr(self, role) is not None}


class CohortSpec(FileModel):
    """One cohort of the file, as written (``defaults`` merged in)."""

    id: Id
    """Lower-case letters, digits, '-' and '_'; names the cohort in runs, reports and the trigger form."""
    title: one_line(200)
    """The course's name, in every email and report (one line)."""
    deadline: Date
    """The last day (YYYY-MM-DD): on time means by its end in `timezone`."""
    timezone: TimeZone
    """IANA zone of the deadline and of timestamps written without an offset."""
    sender: Address
    """Who the emails come from: one address, optionally with a name."""
    instructor: Address
    """Receives the run summaries; one address."""
    sources: Sources
    """The exports it reads, by role (see "Sources")."""
    reminder_days_before: whole(0, 366, " of days") = 3
    """Reminders go out from this many days before the deadline."""
    grace_period: Duration = dt.timedelta(0)
    """Added to the deadline before anyone is cancelled (like 2h, 30m, 1d)."""
    welcome_timing: Literal["after_deadline", "on_completion"] = "after_deadline"
    """Welcome at once on completion, or after the deadline."""
    email_connection: Text = "onboarding_email"
    """Airflow connection of the email backend."""
    course_url: Text | None = None
    """Linked in reminders and welcomes."""
    next_steps: list[str] = []
    """Listed in the welcome."""
    guards: Guards | None = None
    """Limits that hold a run whose exports look wrong (see "Guards")."""
    instructor_sheet: Annotated[InstructorSheet | None,
                                BeforeValidator(_sheet_shorthand, json_schema_input_type=str | InstructorSheet)] = None
    """The instructor's Google Sheet: its id or URL (see "The instructor's spreadsheet")."""
    data_team: typed(tuple, _addresses, {"anyOf": [{"type": "string"},
                                                    {"type": "array", "items": {"type": "string"}}]}) = ()
    """Copied on held and failed runs' summaries."""
    email_classes: typed(dict, _classes, {"type": "object", "additionalProperties": {"enum": list(CLASSES)}}) | None = None
    """Each email kind's class, transactional or marketing (an unsubscribe stops marketing)."""
    suppress: typed(tuple, _suppress, {"type": "array", "items": {"type": "string"}}) | None = None
    """Addresses and @domains never emailed."""
    consent_wording: one_line(200) | None = None
    """The consent text's version, recorded with marketing decisions."""
    retention_days: whole(1, 3650, " of days") = 400
    """Run folders older than this are deleted."""
    journey: Id = SEED_ID
    """The journey its customers go through (`seed`: the original process)."""
    locale: typed(str, _locale, {"type": "string", "pattern": r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,3}$"}) | None = None
    """The instructor's summary and the Onboarding page write dates in this locale (like de-DE; default English)."""


def _defaults(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("'defaults' must be a mapping")
    unknown = sorted(str(k) for k in value if k not in CohortSpec.keys())
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; known: {CohortSpec.keys()}")
    return value


def _roots(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(r, str) and r for r in value):
        raise ValueError("expected a list of folders (relative to this file)")
    return tuple(value)


class CohortsDocument(FileModel):
    """The cohort file: its cohorts (each read on its own, so that one bad cohort fails alone),
    keys every cohort takes unless it sets its own, the folders besides its own that its sources
    may read, and the journey file it names."""

    cohorts: list[Any]
    """The cohorts (each a CohortSpec, below), each read on its own: one bad cohort fails alone."""
    defaults: typed(dict, _defaults, {"type": "object"}) | None = {}
    """Any cohort key, applied to every cohort unless it sets its own."""
    source_roots: typed(tuple, _roots, {"type": "array", "items": {"type": "string", "minLength": 1}}) | None = ()
    """Folders (relative to this file) that sources may read besides this file's own."""
    journeys: Text | None = None
    """The journey file, beside this one (see "Journeys")."""
    templates: Text | None = None
    """A template folder (relative to this file) searched before the built-in templates (see docs/journeys/languages.md)."""


@dataclass(frozen=True)
class Fields:
    """The fields an export maps: those it must, those it may, those read as attributes (``None``:
    every further field is one, as in a CSM roster), and its timestamp fields (a wide export's)."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    attributes: tuple[str, ...] | None = ()
    timestamps: tuple[str, ...] = ()


def _fields(role: str, journey: Journey) -> Fields:
    """What an export of this role maps, for a cohort of this journey."""
    seed = journey.is_seed
    if role == "completions" and not seed:  # the wide export: a timestamp column per stage that names one
        wide = _wide_fields(journey)
        return Fields(("email", *wide), ("name",), timestamps=wide)
    # A customer's language (``language``) is read whatever the journey: it chooses their emails' variant.
    customer = tuple(dict.fromkeys((*(() if seed else journey.csm_match), LANGUAGE)))
    attributes = None if role == "csms" else customer if role == "signups" else ()
    return Fields(REQUIRED_COLUMNS[role], OPTIONAL_COLUMNS[role], attributes,
                  ("asked_at", "answered_at") if role == "queries" else ())


def _attributes(columns: dict[str, str], fields: Fields, where: str) -> tuple[str, ...]:
    """The fields of ``columns`` read as attributes; a field it must map and does not, or one it
    does not know, is refused."""
    if columns.get("last_name") and not columns.get("first_name"):
        raise ConfigError(f"{where}: last_name is mapped without first_name")
    # A whole name, or a first name (with an optional last name) to make it from.
    missing = [c for c in fields.required if not columns.get(c) and not (c == "name" and columns.get("first_name"))]
    if missing:
        raise ConfigError(f"{where}: {', '.join(missing)} must be mapped")
    attributes = fields.attributes
    if attributes is None:  # a roster: every further field is an attribute of the CSM
        attributes = tuple(sorted(set(columns) - set(fields.required) - set(fields.optional)))
        bad = [a for a in attributes if not ID_RE.fullmatch(str(a))]
        if bad:
            raise ConfigError(f"{where}: {bad} are not attribute names (lower-case letters, digits, '_')")
    known = (*fields.required, *fields.optional, *attributes)
    unknown = set(columns) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; known: {list(known)}")
    return tuple(a for a in attributes if a in columns)


@dataclass(frozen=True)
class Place:
    """Where the cohort file lies (relative paths are read from there) and the folders its sources
    may read: its own and those ``source_roots`` lists."""

    base: Path
    roots: tuple[Path, ...]

    def path(self, value: str, where: str) -> str:
        if "://" in value:
            return value
        p = Path(os.path.expandvars(value))
        p = (p if p.is_absolute() else self.base / p).resolve()
        if not any(p == r or r in p.parents for r in self.roots):
            raise ConfigError(f"{where}: {p} is outside the cohort file's folder ({self.base}); list its folder "
                              f"under source_roots if it may be read")
        return str(p)


def _source(raw: Any, role: str, base: Path, where: str, roots: tuple[Path, ...]) -> SourceConfig:
    """One export of a seed cohort from its mapping in the file, read by its type's model."""
    try:
        spec = TypeAdapter(AnySource).validate_python(raw)
    except ValidationError as exc:
        raise config_error(exc, where) from None
    return _export(spec, role, _fields(role, SEED), where, Place(base, roots))


def _export(spec: SourceSpec, role: str, fields: Fields, where: str, place: Place) -> SourceConfig:
    """One export's configuration, its fields checked for its role and its path for its folder."""
    options = spec.options()
    if "path" in options:
        options["path"] = place.path(str(options["path"]), f"{where}.path")
    attributes = _attributes(spec.columns, fields, f"{where}.columns")
    return SourceConfig(role=role, type=spec.type, columns=spec.columns, options=options, timezone=spec.timezone,
                        timestamp_format=spec.timestamp_format, timestamps=fields.timestamps, attributes=attributes)


def _journey(spec: CohortSpec, where: str, journeys: tuple[dict[str, Journey], str | None]) -> Journey:
    known, journey_error = {SEED_ID: SEED, **journeys[0]}, journeys[1]
    if spec.journey not in known:
        # A broken journey file stops only the cohorts that use one of its journeys.
        raise ConfigError(journey_error or f"{where}.journey: unknown journey {spec.journey!r}; known: {sorted(known)}")
    return known[spec.journey]


def _check_sources(sources: dict[str, SourceSpec], journey: Journey, where: str) -> None:
    """The cohort gives the exports its journey reads (``_roles``), and no other."""
    roles, optional = _roles(journey)
    if not roles <= set(sources) or not set(sources) <= roles | optional:
        raise ConfigError(f"{where}: expected exactly {' and '.join(repr(r) for r in sorted(roles, reverse=True))}"
                          + (f" (and optionally {sorted(optional)})" if optional else "")
                          + ("" if journey.is_seed else f" (what journey {journey.id!r} reads)"))
    if journey.queries is not None and not {"events", "queries"} & set(sources):
        raise ConfigError(f"{where}: journey {journey.id!r} routes queries: give the cohort an 'events' export "
                          f"(events {journey.queries.asked!r} and {journey.queries.answered!r}) or a 'queries' export "
                          f"(a support export: email, asked_at, answered_at, link)")
    if journey.csms_per_cohort and "csms" not in sources:
        raise ConfigError(f"{where}: journey {journey.id!r} takes its CSM roster from each cohort ('csms: "
                          f"per_cohort'): give the cohort a 'csms' source (email, name, capacity, attributes)")


def _exports(spec: CohortSpec, journey: Journey, where: str, place: Place) -> dict[str, SourceConfig]:
    """The cohort's exports by role; a CSM roster export maps every attribute the journey matches
    customers to CSMs on."""
    given = spec.sources.given()
    _check_sources(given, journey, f"{where}.sources")
    out = {role: _export(s, role, _fields(role, journey), f"{where}.sources.{role}", place) for role, s in given.items()}
    missing = [k for k in journey.csm_match if "csms" in out and k not in out["csms"].attributes]
    if missing:
        raise ConfigError(f"{where}.sources.csms.columns: journey {journey.id!r} matches customers to CSMs on {missing}: "
                          f"map {'it' if len(missing) == 1 else 'them'} to the roster's column(s)")
    return out


def _email_classes(spec: CohortSpec, where: str) -> dict[str, str]:
    """Every kind's class: the defaults, overridden per kind (a journey's cohort may class its
    stages' kinds too, by the kind's name: ``advanced_offer: marketing``)."""
    classes = spec.email_classes or {}
    unknown = sorted(set(classes) - set(DEFAULT_CLASSES))
    if unknown and spec.journey == SEED_ID:
        raise ConfigError(f"{where}.email_classes: unknown email kind(s) {unknown}; known: {list(DEFAULT_CLASSES)}")
    return {**DEFAULT_CLASSES, **classes}


def _cohort(raw: Any, defaults: dict, base: Path, where: str, roots: tuple[Path, ...],
            journeys: tuple[dict[str, Journey], str | None] = ({}, None)) -> Cohort:
    """One cohort from its mapping in the file, ``defaults`` merged in (``where`` names it while
    its id is unreadable), its sources read from ``base`` or one of ``roots``."""
    merged = {**defaults, **raw} if isinstance(raw, dict) else raw
    return _resolve(_spec(merged, _label(merged, where)), Place(base, roots), journeys)


def _resolve(spec: CohortSpec, place: Place, journeys: tuple[dict[str, Journey], str | None],
             templates: str | None = None) -> Cohort:
    """The cohort as the pipeline uses it: its journey attached, its exports resolved; with a
    template folder (the file's ``templates``), every email its journey can send checked to render."""
    where = f"cohort {spec.id!r}"
    journey = _journey(spec, where, journeys)
    exports = _exports(spec, journey, where, place)
    plain = spec.model_dump(include={"title", "deadline", "timezone", "sender", "instructor", "reminder_days_before",
                                     "grace_period", "welcome_timing", "email_connection", "course_url",
                                     "consent_wording", "retention_days", "journey", "data_team", "locale"})
    cohort = Cohort(
        id=spec.id, **plain, templates=templates, signups=exports["signups"], completions=exports.get("completions"),
        events=exports.get("events"), csms=exports.get("csms"), queries=exports.get("queries"),
        next_steps=tuple(spec.next_steps),
        guards=GuardConfig(**spec.guards.model_dump()) if spec.guards else GuardConfig(),
        instructor_sheet=spec.instructor_sheet.model_dump() if spec.instructor_sheet else None,
        email_classes=_email_classes(spec, where), suppress=spec.suppress or (), journey_spec=journey)
    if templates:
        from onboarding.templates import check_templates

        problems = check_templates(cohort, journey)
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ConfigError(f"{where}: templates: " + "; ".join(problems[:3]) + more)
    return cohort


def _wide_fields(journey: Journey) -> tuple[str, ...]:
    """The timestamp columns a journey's stages read from its wide export, in stage order."""
    return tuple(dict.fromkeys(u.column for s in journey.stages for u in s.evidence.units() if u.column))


def _roles(journey: Journey) -> tuple[set[str], set[str]]:
    """The exports a cohort of this journey must read, and those it may: the seed journey reads
    signups and completions; another journey signups, the events export when a stage (or its
    queries) reads events, the wide completions export when a stage reads a column, and may
    read its CSM roster from a ``csms`` export; a journey routing queries reads them from the events
    export or from a support export (``queries``)."""
    if journey.is_seed:
        return {"signups", "completions"}, set()
    roles, optional = {"signups"}, {"csms"}
    if any(u.event for s in journey.stages for u in s.evidence.units()):
        roles.add("events")
    if _wide_fields(journey):
        roles.add("completions")
    if journey.queries is not None:
        optional |= {"queries"} | ({"events"} - roles)
    return roles, optional


@dataclass(frozen=True)
class CohortFile:
    """The cohort file as read: the cohorts that are well configured, and the problem of each that
    is not (keyed by its id, or ``cohorts[i]`` when even that is unreadable)."""

    path: Path
    cohorts: dict[str, Cohort]
    broken: dict[str, str]
    order: tuple[str, ...] = ()  # every cohort's id (or label), in file order
    senders: dict[str, str] = field(default_factory=dict)  # every cohort's sender that is one valid address
    journeys: dict[str, Journey] = field(default_factory=dict)  # id -> journey, seed included

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
        text = data.decode("utf-8")
        # Nesting is counted on PyYAML's event stream (its parser keeps its own stack) before the
        # document is built (which recurses once per level): a few kB of "[[[[..." would otherwise
        # end in a RecursionError instead of a sentence naming the file.
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise ConfigError(f"{path}: nested deeper than {MAX_NESTING} levels at line "
                                      f"{event.start_mark.line + 1}; a configuration file is a few levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=NoAliases)  # noqa: S506 - NoAliases is a SafeLoader
    except ConfigError:
        raise
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:  # a date YAML reads as one that is not (2026-02-30)
        raise ConfigError(f"{path}: a value YAML reads as a date is not one ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:  # a shape the count above missed: still a broken file, not a crash
        raise ConfigError(f"{path}: nested too deeply to read") from None


def read_cohort_file(path: str | Path | None = None) -> CohortFile:
    """Read and check the cohort file. A problem with the file as a whole raises ``ConfigError``;
    a problem with one cohort is recorded in ``broken`` and the others are kept."""
    path = Path(path or paths.cohorts_file())
    doc = _document(path)
    base = path.parent.resolve()
    place = Place(base, (base, *((base / os.path.expandvars(r)).resolve() for r in doc.source_roots or ())))
    journeys = _journeys(doc.journeys, path)
    templates = _templates(doc.templates, path)
    found = CohortFile(path, {}, {}, journeys=journeys[0])
    order: list[str] = []
    for i, raw in enumerate(doc.cohorts):
        raw = {**(doc.defaults or {}), **raw} if isinstance(raw, dict) else raw
        label = _label(raw, f"cohorts[{i}]")
        try:
            found.senders[label] = _address(raw.get("sender") if isinstance(raw, dict) else None)
        except ValueError:
            pass
        try:
            c = _resolve(_spec(raw, label), place, journeys, templates)
            if c.id in found.cohorts or c.id in found.broken:
                raise ConfigError(f"cohort id {c.id!r} appears twice")
        except ConfigError as exc:
            if label not in found.broken:
                order.append(label)
            found.broken.setdefault(label, f"{path}: {exc}")
            continue
        found.cohorts[c.id] = c
        order.append(c.id)
    return replace(found, order=tuple(order))


def _label(raw: Any, place: str) -> str:
    """What names a cohort: its id, or its place in the file (``cohorts[1]``) while that is unreadable."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    return raw_id if isinstance(raw_id, str) and ID_RE.fullmatch(raw_id) else place


def _spec(raw: Any, label: str) -> CohortSpec:
    """One cohort's typed configuration; its mistakes named by cohort (or ``cohorts[i]``) and key."""
    where = label if label.startswith("cohorts[") else f"cohort {label!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    try:
        return CohortSpec.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, where) from None


def _document(path: Path) -> CohortsDocument:
    """The file as a whole: a problem here stops every cohort."""
    try:
        doc = read_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: cohort configuration file not found "
                          f"(set ONBOARDING_COHORTS_FILE to its path)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cohorts"), list) or not doc["cohorts"]:
        raise ConfigError(f"{path}: expected a top-level 'cohorts:' list with at least one cohort")
    try:
        return CohortsDocument.model_validate(doc)
    except ValidationError as exc:
        raise config_error(exc, str(path), ": ") from None


def _journeys(name: str | None, path: Path) -> tuple[dict[str, Journey], str | None]:
    """The journeys of the file the cohort file names (``journeys: journeys.yaml``), with the
    built-in ``seed``; and, when that file is broken, why (only the cohorts using it fail)."""
    if name is None:
        return {SEED_ID: SEED}, None
    if not name.strip():
        return {SEED_ID: SEED}, f"journeys: expected the journey file's name, got {name!r}"
    jpath = path.parent / name
    try:
        return journeys_from(read_yaml(jpath), jpath), None
    except FileNotFoundError:
        return {SEED_ID: SEED}, f"journeys: {jpath}: journey file not found"
    except ConfigError as exc:
        return {SEED_ID: SEED}, str(exc)


def _templates(name: str | None, path: Path) -> str | None:
    """The template folder the cohort file names (``templates: ../my-templates``, relative to the
    file, like ``journeys``), searched before the built-in templates; refused (every cohort of the
    file stops) when it is no folder or holds a link leading out of it."""
    from onboarding.templates import folder_problems

    if name is None:
        return None
    if not name.strip() or any(ord(c) < 32 for c in name):
        raise ConfigError(f"{path}: templates: expected a folder's name, got {name!r}")
    folder = (path.parent / os.path.expandvars(name)).resolve()
    problems = folder_problems(folder)
    if problems:
        raise ConfigError(f"{path}: templates: " + "; ".join(problems))
    return str(folder)


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


def _form_entries() -> tuple[list[dict[str, Any]], str]:
    """The cohort file's entries with a valid id, and the journey a cohort without one goes through,
    for the trigger form (read when the DAG file is parsed, as Airflow's own params example reads
    its choices; only YAML, no connection). Raises if the file cannot be read."""
    doc = read_yaml(paths.cohorts_file()) or {}
    entries = [c for c in doc.get("cohorts") or []
               if isinstance(c, dict) and isinstance(c.get("id"), str) and ID_RE.fullmatch(c["id"])]
    return entries, (doc.get("defaults") or {}).get("journey") or SEED_ID


def cohort_choices() -> dict[str, str]:
    """Cohort id -> title, for the trigger form's drop-down. Empty if the file cannot be read: the
    run itself then reports the configuration error."""
    try:
        entries, _ = _form_entries()
    except Exception:  # noqa: BLE001 - the form falls back to free text
        return {}
    return {str(c["id"]): str(c.get("title") or c["id"]) for c in entries}


def cohort_journeys() -> dict[str, str]:
    """Cohort id -> the journey its customers go through (``SEED_ID``: a course cohort), for the
    trigger form's Email kinds label. Empty if the file cannot be read."""
    try:
        entries, default = _form_entries()
    except Exception:  # noqa: BLE001 - the label then speaks of course and journey cohorts in general
        return {}
    return {str(c["id"]): str(c.get("journey") or default) for c in entries}


def fingerprint(cohort: Cohort) -> dict:
    """The cohort's configuration as a run used it, recorded with the run's inputs (a replay says
    when it has changed since)."""
    import json
    from dataclasses import asdict

    out = json.loads(json.dumps(asdict(cohort), default=str))
    if out.get("journey") == SEED_ID:
        # Runs recorded before journeys existed have no such key: the seed journey is what they ran.
        del out["journey"]
        out.pop("journey_spec", None)
    if isinstance(out.get("journey_spec"), dict):
        # The journey's version (hash, label) is the run's own record (runs.journey_digest,
        # journey_version); its definition is here already, and older records compare the same.
        out["journey_spec"].pop("digest", None)
        out["journey_spec"].pop("version", None)
    for role in ("events", "csms", "locale", "templates"):
        if out.get(role) is None:
            out.pop(role, None)
    for role in EXPORT_ROLES:  # fields added later, recorded only where used (older runs compare the same)
        for key in ("timestamps", "attributes"):
            if isinstance(out.get(role), dict) and not out[role].get(key):
                out[role].pop(key, None)
    return out
