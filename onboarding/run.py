"""One run of the nightly pipeline: the trigger form's parameters, parsed once, and the context
every stage of the run shares (its id, its moment, what it may send, where its files go)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from onboarding import paths
from onboarding.addresses import is_plain_address, normalised
from onboarding.cohorts import CohortFile, select_cohorts
from onboarding.decisions.guards import released
from onboarding.decisions import FORM_KINDS, JOURNEY_KIND, KINDS, Resend, form_kinds, journey_of
from onboarding.errors import ConfigError, ParamsError


@dataclass(frozen=True)
class RunParams:
    """The trigger form (or the nightly schedule's defaults), checked once. Every field is what the
    instructor asked for; nothing here has been resolved against the clock or the cohort file yet."""

    cohort: str | None = None  # a cohort id, comma-separated ids, or None/'all'
    as_of: str | None = None  # a date or datetime; None: the run's own moment
    dry_run: bool = False
    release_guards: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # the form's email kinds chosen; empty: every kind the cohort sends
    resend_request: str | None = None  # a resend asked for on the Onboarding page, by its reference

    @classmethod
    def parse(cls, params: Mapping[str, Any] | None) -> "RunParams":
        """The form's values as one typed object; a value that makes no sense raises ``ParamsError``
        naming the parameter."""
        p = dict(params or {})
        kinds = tuple(p.get("kinds") or ())
        unknown = set(kinds) - set(FORM_KINDS)
        if unknown:
            raise ParamsError(f"kinds: unknown email kind(s) {sorted(unknown)}; known: {list(FORM_KINDS)}")
        try:
            release = tuple(sorted(released(p.get("release_guards"))))
        except ValueError as exc:
            raise ParamsError(str(exc)) from None
        for key, what in ADDRESS_PARAMS.items():
            if p.get(key):
                raise ParamsError(f"{key}: the trigger form takes no addresses (Airflow keeps a run's parameters "
                                  f"in its own database, where an erasure cannot reach them): {what}")
        if address_in(p):
            raise ParamsError(f"{address_in(p)}: holds an address; the trigger form takes none (erase, suppress and "
                              "resend are asked for on the Onboarding page)")
        reference = _resend_request(p.get("resend_request"))
        if p.get("resend") and not reference:
            raise ParamsError("Resend one email is ticked but Resend reference is empty: paste the reference her page "
                              "gave (resend-...), or untick Resend one email.")
        return cls(cohort=p.get("cohort") or None, as_of=p.get("as_of") or None, dry_run=bool(p.get("dry_run")),
                   release_guards=release, kinds=tuple(k for k in FORM_KINDS if k in kinds),
                   resend_request=reference)


# The trigger form's former address parameters, and where each is asked for now.
ADDRESS_PARAMS = {
    "erase": "erase people on the Onboarding page (POST /onboarding/api/erasures)",
    "suppress": "suppress addresses on the Onboarding page (POST /onboarding/api/suppressions)",
    "resend_customer": "ask for the resend on the Onboarding page (POST /onboarding/api/resends) and give its "
                       "reference as resend_request",
}
RESEND_REFERENCE = re.compile(r"resend-[0-9a-f]{16}")


def address_in(conf: Any) -> str | None:
    """The first parameter of a run's conf whose value holds something like an address (an ``@``),
    or None. No parameter of the form takes one, so a conf that has one is refused before Airflow
    stores it (the api-server's check in plugins/onboarding_ui.py)."""
    if not isinstance(conf, dict):
        return None
    for key, value in conf.items():
        if "@" in (value if isinstance(value, str) else json.dumps(value, default=str)):
            return str(key)
    return None


def _resend_request(reference: str | None) -> str | None:
    """The form's "Resend one email": the reference the Onboarding page gave the request."""
    text = (reference or "").strip().lower()
    if not text:
        return None
    if not RESEND_REFERENCE.fullmatch(text):
        raise ParamsError(f"resend_request: {reference!r} is not a resend request's reference (resend- and 16 hex "
                          "digits, as the Onboarding page gave it).")
    return text


def resend(customer: str | None, kind: str | None, reason: str | None) -> Resend:
    """One customer's email to send again, as the Onboarding page asks for it (checked here)."""
    email = normalised(customer)
    if not is_plain_address(email):
        raise ParamsError("address: not an email address")
    if kind not in KINDS and not re.fullmatch(JOURNEY_KIND, str(kind or "")):
        raise ParamsError(f"kind: choose which email to send again: one of {list(KINDS)}, or a journey's "
                          f"<stage>:<kind> (csm:csm_introduction)")
    if not (reason or "").strip() or len(reason.strip()) < 5:
        raise ParamsError("reason: say why the email is sent again (it is recorded in the ledger)")
    return Resend(email, kind, reason.strip())


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run shares: its id, its moment and whether it may send."""

    run_id: str
    as_of: dt.datetime
    dry_run: bool = False
    runs_base: str = field(default_factory=paths.runs_base)  # where run folders live (path or URL)
    attempt: int | None = None  # the Airflow try number, when run by Airflow
    release_guards: tuple[str, ...] = ()  # guards the instructor released for this run
    host: str = field(default_factory=socket.gethostname)
    kinds: tuple[str, ...] = FORM_KINDS  # the email kinds this run may send
    # When the run was asked for (Airflow's run_after). A reminder whose deadline had passed by
    # then (or by the time the run decides) is not sent, even by a rerun as of an earlier date.
    triggered_at: dt.datetime | None = None
    # The instructor's resend: its reference travels with the run (the plan's XCom); the request
    # itself (the address) is read from the state database by the stage that decides.
    resend_request: str | None = None
    resend: Resend | None = None
    # Which kind of Airflow run this is (scheduled, manual, backfill...) and who asked for it: the
    # instructor's summary says which run it reports on and why that run happened.
    run_type: str | None = None
    triggered_by: str | None = None
    ui_url: str | None = None  # the Airflow UI's address (api.base_url), for links in emails
    ui_url_assumed: bool = False  # no api.base_url is configured: ui_url is the local UI's (``ui_address``)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
                "runs_base": str(self.runs_base), "release_guards": list(self.release_guards),
                "kinds": list(self.kinds),
                "triggered_at": self.triggered_at.isoformat() if self.triggered_at else None,
                "resend_request": self.resend_request,
                "run_type": self.run_type, "triggered_by": self.triggered_by, "ui_url": self.ui_url,
                "ui_url_assumed": self.ui_url_assumed}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunContext":
        return cls(d["run_id"], dt.datetime.fromisoformat(d["as_of"]), bool(d["dry_run"]), d["runs_base"],
                   release_guards=tuple(d.get("release_guards", ())), kinds=tuple(d.get("kinds") or FORM_KINDS),
                   triggered_at=dt.datetime.fromisoformat(d["triggered_at"]) if d.get("triggered_at") else None,
                   resend_request=d.get("resend_request"),
                   run_type=d.get("run_type"), triggered_by=d.get("triggered_by"), ui_url=d.get("ui_url"),
                   ui_url_assumed=bool(d.get("ui_url_assumed")))

    def fields(self, cohort_id: str | None = None, **more: Any) -> dict[str, Any]:
        """The run's fields for a structured log line (``logs.event(log, level, text, **ctx.fields(...))``):
        the data team filters task logs by cohort, run and counts, not by parsing sentences."""
        out: dict[str, Any] = {"run_id": self.run_id, "as_of": self.as_of.isoformat()}
        if cohort_id:
            out["cohort"] = cohort_id
        if self.dry_run:
            out["dry_run"] = True
        return {**out, **more}

    def with_try(self, attempt: int | None) -> "RunContext":
        return self if attempt is None else dataclasses.replace(self, attempt=attempt)

    def folder(self, cohort_id: str):
        """The run's folder for one cohort (a ``Path``, or an object-storage path)."""
        from onboarding import storage

        return storage.location(self.runs_base) / cohort_id / run_slug(self.run_id)

    @property
    def owner(self) -> str:
        """Who holds ledger claims: this run, try and process (set by the task; see ``with_try``)."""
        return self.run_id if self.attempt is None else f"{self.run_id}/try-{self.attempt}/{self.host}:{os.getpid()}"


def run_slug(run_id: str) -> str:
    """A run id as a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


def nightly_schedule() -> tuple[str, dt.time]:
    """The nightly run's time zone and its time there (``ONBOARDING_TIMEZONE``, default
    Australia/Sydney; ``ONBOARDING_RUN_TIME``, default 06:00): the Dag's cron, and so each
    nightly run's moment (a night's ``as_of``)."""
    return (os.environ.get("ONBOARDING_TIMEZONE", "Australia/Sydney"),
            dt.time.fromisoformat(os.environ.get("ONBOARDING_RUN_TIME", "06:00")))


def resolve_as_of(value: str | None, logical_date: dt.datetime, tz: str, run_time: dt.time) -> dt.datetime:
    """The moment a run decides at: the ``as_of`` param if given, else the run's logical date.

    A date alone means "as the nightly run of that date would": ``run_time`` in ``tz``. A
    datetime without an offset is read in ``tz``.
    """
    if value in (None, ""):
        if logical_date.tzinfo is None:
            raise ParamsError("the run's logical date has no time zone")
        return logical_date.astimezone(dt.timezone.utc)
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = dt.datetime.combine(dt.date.fromisoformat(text), run_time, ZoneInfo(tz))
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ParamsError(f"As of: {value!r} is neither a date (2026-12-05) nor a datetime "
                          f"(2026-12-05T06:00, or with an offset).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(dt.timezone.utc)


def ui_address(base_url: str | None, port: Any = None) -> tuple[str, bool]:
    """The Airflow UI's address for the links in emails (a link in an email cannot be relative):
    ``api.base_url`` when the deployment sets it; otherwise the local UI's, as
    ``scripts/airflow-ui.sh`` starts it (``http://localhost:<api port>``). The flag says it was
    assumed, and the summary says so."""
    if (base_url or "").strip():
        return base_url.strip().rstrip("/"), False
    return f"http://localhost:{port or 8080}", True


def sendable_kinds(cohort: Any) -> tuple[str, ...]:
    """The form's email kinds a cohort can send at all: a course cohort's, from the seed journey's
    definition (no stage emails); a multi-stage journey has all four."""
    journey = journey_of(cohort)
    return form_kinds(journey) if journey.is_seed else FORM_KINDS


def plan(found: CohortFile, params: RunParams, run_id: str, logical_date: dt.datetime,
         triggered_at: dt.datetime, nightly_tz: str, nightly_time: dt.time, run_type: str | None = None,
         triggered_by: str | None = None, ui_url: str | None = None, ui_url_assumed: bool = False,
         resend_cohort: Any = None) -> tuple[list[str], RunContext]:
    """The cohorts a run handles (their ids, in file order; a cohort whose configuration is broken
    is among them, to fail alone) and the context they share, from the parsed form.

    ``resend_cohort`` answers the cohort a resend request was asked for in (None: no such request):
    the request names its cohort, so the form's resend needs no cohort beside it (the form's
    sections fold each other away); a cohort chosen as well must be the request's."""
    cohort = params.cohort
    if params.resend_request and resend_cohort is not None:
        owner = resend_cohort(params.resend_request)
        if owner is None:
            raise ParamsError(f"Resend reference {params.resend_request}: no such request; ask for the resend on her "
                              "page (Onboarding, her cohort, her name, Actions), which gives the reference (an "
                              "erasure removes her requests).")
        if cohort in (None, "", "all"):
            cohort = owner
        elif cohort != owner:
            raise ParamsError(f"Resend reference {params.resend_request} was asked for in cohort {owner}, not {cohort}: "
                              f"choose {owner} (or All cohorts) as the Cohort.")
    try:
        chosen = select_cohorts({cid: cid for cid in found.order}, cohort)
    except ConfigError as exc:
        raise ParamsError(str(exc)) from None
    if params.resend_request and len(chosen) != 1:
        raise ParamsError("resend: pick the customer's cohort (not 'all') to resend an email")
    _check_kinds(found, chosen, params)
    ctx = RunContext(run_id=run_id, as_of=resolve_as_of(params.as_of, logical_date, nightly_tz, nightly_time),
                     dry_run=params.dry_run, release_guards=params.release_guards, kinds=params.kinds or FORM_KINDS,
                     triggered_at=triggered_at.astimezone(dt.timezone.utc),
                     resend_request=params.resend_request, run_type=run_type, triggered_by=triggered_by,
                     ui_url=(ui_url or "").rstrip("/") or None, ui_url_assumed=ui_url_assumed)
    return chosen, ctx


KIND_WORDS = {"reminder": "reminders", "cancellation": "cancellations", "welcome": "welcomes",
              "stage": "stage emails"}


def _check_kinds(found: CohortFile, chosen: list[str], params: RunParams) -> None:
    """The form's Email kinds must be the chosen cohort's: a course cohort sends reminders,
    cancellations and welcomes, never a journey's stage emails. For several cohorts, at least one
    of them must send one of the kinds (each sends the ones it has)."""
    if not params.kinds or params.resend_request:
        return
    mine = {cid: sendable_kinds(found.cohorts[cid]) for cid in chosen if cid in found.cohorts}
    if len(chosen) == 1 and chosen[0] in mine:
        missing = [k for k in params.kinds if k not in mine[chosen[0]]]
        if missing:
            raise ParamsError(f"Email kinds: {chosen[0]} sends {_words(mine[chosen[0]])}, not {_words(missing)}; "
                              "leave Email kinds empty for all of its kinds.")
    elif chosen and mine and not any(set(params.kinds) & set(kinds) for kinds in mine.values()):
        raise ParamsError(f"Email kinds: {', '.join(chosen)} send(s) no {_words(params.kinds, 'or')}: a course cohort "
                          "sends reminders, cancellations and welcomes; stage emails are a multi-stage journey's.")


def _words(kinds, last: str = "and") -> str:
    words = [KIND_WORDS.get(k, k) for k in kinds]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def form_kinds_help(journeys: Mapping[str, str]) -> str:
    """The trigger form's Email kinds help: which kinds belong to which cohort (``journeys``: cohort
    id -> its journey, ``cohorts.cohort_journeys``), in her words."""
    from onboarding.journeys import SEED_ID

    courses = [cid for cid, j in journeys.items() if j == SEED_ID]
    others = {j: [cid for cid, jj in journeys.items() if jj == j] for j in journeys.values() if j != SEED_ID}
    named = f" ({', '.join(courses)})" if courses else ""
    parts = [f"Course cohorts{named}: reminders, cancellations, welcomes"]
    parts += [f"journey {j} ({', '.join(ids)}): reminders, cancellations, welcomes (on completing a stage), "
              "stage emails (on entering one)" for j, ids in others.items()] or [
        "a journey cohort: those and stage emails (sent on entering a stage)"]
    return ("Leave empty to send every kind the cohort sends; pick some to send only those. " + "; ".join(parts)
            + ". A kind the chosen cohort does not send is refused.")


def refusal(conf: Any, found: CohortFile, resend_cohort, moment: dt.datetime) -> str | None:
    """Why a trigger of the nightly Dag with this conf would be refused at its start (one sentence
    naming the field), or None: the same checks as ``plan``, run by the api-server before the run
    exists (plugins/onboarding_ui.py), so a mistake is answered at once, to her, not in a failed
    run's log. ``moment`` stands for the run's date (only whether ``as_of`` reads matters here)."""
    try:
        plan(found, RunParams.parse(conf if isinstance(conf, dict) else {}), "check", moment, moment, "UTC",
             dt.time(6), resend_cohort=resend_cohort)
    except ParamsError as exc:
        return str(exc)
    return None
