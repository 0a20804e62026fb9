"""A journey simulated for one customer (``decisions.simulate``), fed the way the nightly run is fed:

- ``from_file``: one customer's events in an events export's long shape (a CSV file a manager
  writes), read by the project's own CSV source and events reader, every value checked as the
  nightly validation checks it; a file any row of which the nightly run would quarantine is
  refused with the file, row, column and reason (``EventsFileError``);
- ``what_next``: a real customer of a cohort, from the state database as the cohort's latest
  decided run left it (``pipeline.decide.load_facts``, read only): the next nights if nothing changes.

The events file: a header row, then one row per thing the customer did. Its columns are the
cohort's events export's (``User Email, Event, Occurred At, Score, Link`` in the sample) or plain
``email, event, at, value, link`` (``value`` and ``link`` optional). Two kinds of rows are not the
product's events:

- ``signed_up``: when the account was made (the journey starts then), unless ``--signed-up-at``;
- ``approved:<stage>`` / ``rejected:<stage>``: the approver's answer for that stage, at ``at``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from onboarding.addresses import normalised
from onboarding.cohorts import Cohort, SourceConfig
from onboarding.decisions.facts import RunFacts
from onboarding.decisions.simulate import Night, first_night, nightly_moments, simulate
from onboarding.decisions.suppression import with_cohort_file
from onboarding.errors import DatasetError
from onboarding.journeys import Journey
from onboarding.times import iso

MAX_BYTES = 1_000_000  # one customer's events: a file larger than this is not one
MAX_ROWS = 5_000
PLAIN = {"email": "email", "event": "event", "at": "at", "value": "value", "link": "link"}
SIGNED_UP = "signed_up"
ANSWERS = ("approved", "rejected")
WHOLE_COHORT = 2_000  # the page simulates a cohort this large whole, while her CSM placement is ahead


class EventsFileError(ValueError):
    """The customer's events file cannot be used: which file, row and column, and why."""


@dataclasses.dataclass(frozen=True)
class CustomerFile:
    """One customer's rows from the file: her address, signup, event rows and approvals."""

    email: str
    signed_up_at: dt.datetime | None
    events: tuple[dict[str, Any], ...]  # email, event, at (ISO), value, link: as the staging keeps them
    approvals: tuple[dict[str, Any], ...]  # as the state database keeps recorded decisions


def read_events_file(path: Path, cohort: Cohort, journey: Journey) -> CustomerFile:
    """The file's rows, checked as the nightly run's validation checks an events export (its
    events reader, its CSV source); any row it would quarantine refuses the whole file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise EventsFileError(f"{path}: no such file") from None
    if size > MAX_BYTES:
        raise EventsFileError(f"{path}: {size:,} bytes; one customer's events file holds at most {MAX_BYTES:,}")
    from onboarding.sources.csv_source import CsvSource
    from onboarding.sources.table import ROW
    from onboarding.validation.readers import Events

    columns = _columns(path, cohort)
    config = SourceConfig("events", "csv", columns, {"path": str(path)},
                          cohort.events.timezone if cohort.events else None,
                          cohort.events.timestamp_format if cohort.events else None)
    source = CsvSource(config)
    try:
        with tempfile.TemporaryDirectory(prefix="simulate-") as tmp:
            raw = source.read(source.snapshot(Path(tmp)))
    except DatasetError as exc:
        raise EventsFileError(str(exc)) from None
    if len(raw) > MAX_ROWS:
        raise EventsFileError(f"{path}: {len(raw):,} rows; one customer's events file holds at most {MAX_ROWS:,}")
    if not len(raw):
        raise EventsFileError(f"{path}: no rows after the header (a customer who did nothing yet: one row, "
                              f"her address, the event signed_up and when)")
    reading = Events().read(raw, config, config.timezone or cohort.timezone, None)
    problems = [f"row {int(raw[ROW].iloc[i])}, column {c.column_at(i)!r}: {reason}"
                for c in reading.checks for i, reason in enumerate(c.reasons.tolist()) if reason is not None]
    if problems:
        raise EventsFileError(f"{path}: " + "; ".join(sorted(problems, key=_row_number)[:10])
                              + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    rows = reading.good(pd.Series(True, index=raw.index).to_numpy())
    emails = set(rows["email"])
    if len(emails) != 1:
        other = rows.loc[rows["email"] != rows["email"].iloc[0]].iloc[0]
        raise EventsFileError(f"{path}: row {int(other['row'])}, column {columns['email']!r}: another customer's "
                              f"row; the file holds one customer's events")
    email = emails.pop()
    stages = {s.id for s in journey.stages}
    signed, events, approvals = None, [], []
    for r in rows.to_dict("records"):
        at, event = r["timestamp"].to_pydatetime(), r["event"]
        answer, _, stage = event.partition(":")
        if event == SIGNED_UP:
            signed = at if signed is None else min(signed, at)
        elif answer in ANSWERS and stage:
            if stage not in stages:
                raise EventsFileError(f"{path}: row {int(r['row'])}, column {columns['event']!r}: {event!r} names no "
                                      f"stage of journey {journey.id} (its stages: {', '.join(sorted(stages))})")
            approvals.append({"email": email, "stage": stage, "decision": answer, "decided_at": iso(at),
                              "decided_by": "the events file", "reason": None})
        else:
            events.append({"email": email, "event": event, "at": iso(at), "value": r.get("value"),
                           "link": r.get("link")})
    return CustomerFile(email, signed, tuple(sorted(events, key=lambda e: e["at"])), tuple(approvals))


def _row_number(problem: str) -> int:
    return int(problem.split(",", 1)[0].removeprefix("row "))


def _columns(path: Path, cohort: Cohort) -> dict[str, str]:
    """The file's columns: the cohort's events export's headers, or the plain names."""
    import csv

    try:
        with open(path, "rb") as fh:  # the header alone: a later line's problem is the CSV reader's to name
            first = fh.readline().decode("utf-8-sig")
        header = [h.strip() for h in next(csv.reader([first]), [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EventsFileError(f"{path}: row 1: not a readable CSV header ({exc})") from None
    for mapping in ([dict(cohort.events.columns)] if cohort.events else []) + [PLAIN]:
        needed = {k: v for k, v in mapping.items() if k in ("email", "event", "at")}
        if set(needed.values()) <= set(header):
            return {k: v for k, v in mapping.items() if k in needed or v in header}
    want = " or ".join(", ".join(m[k] for k in ("email", "event", "at") if k in m)
                       for m in ([dict(cohort.events.columns)] if cohort.events else []) + [PLAIN])
    raise EventsFileError(f"{path}: row 1: the columns are {', '.join(header) or '(none)'}; expected {want} "
                          f"(then optionally value and link)")


def file_facts(cohort: Cohort, customer: CustomerFile, signed_up_at: dt.datetime, consent: bool = False,
               attributes: dict[str, str] | None = None) -> Callable[[dt.datetime], RunFacts]:
    """The nightly run's facts at a moment for the file's customer alone: what the decide stage
    would load had her rows been staged (her signup and rows at or before the moment)."""
    who = pd.DataFrame({"email": [customer.email], "name": [customer.email.split("@")[0]], "first_name": [None],
                        "consent": [int(consent)], "attributes": [json.dumps(attributes, sort_keys=True)
                                                                   if attributes else None],
                        "completed_at": pd.to_datetime([None], utc=True), "held": [False]})
    suppressions = tuple(with_cohort_file([], cohort.id, cohort.suppress))

    def at(moment: dt.datetime) -> RunFacts:
        known = signed_up_at <= moment
        return RunFacts(who if known else who.iloc[:0], {customer.email: signed_up_at} if known else {},
                        [e for e in customer.events if e["at"] <= iso(moment)], list(customer.approvals),
                        suppressions=suppressions)

    return at


def simulate_file(cohort: Cohort, journey: Journey, customer: CustomerFile, signed_up_at: dt.datetime,
                  first: dt.date | None, last: dt.date | None, tz: str, run_time: dt.time, answer: str | None = None,
                  consent: bool = False, attributes: dict[str, str] | None = None, nights: int = 60) -> list[Night]:
    """The file's customer through ``journey`` from the night ``first`` (default: the first
    nightly run after her signup) to ``last`` (default: ``nights`` nights on), or until it ends."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    start = first or first_night(signed_up_at, zone, run_time)
    moments = nightly_moments(start, last or start + dt.timedelta(days=nights - 1), zone, run_time)
    cohort = dataclasses.replace(cohort, journey=journey.id, journey_spec=journey)
    return simulate(cohort, journey, file_facts(cohort, customer, signed_up_at, consent, attributes),
                    customer.email, moments, answer)


def what_next(store, cohort: Cohort, email: str, nights: int = 14) -> list[Night] | None:
    """A real customer's next nights if nothing changes: the exports stay as the cohort's latest
    decided run read them, nobody answers a request, and every night's facts are loaded as that
    run's decide stage loads them (read only). None when the cohort has no decided run, or is a
    course cohort (the seed journey: its page shows the deadline's rules)."""
    from zoneinfo import ZoneInfo

    from onboarding.decisions import journey_of
    from onboarding.pipeline.decide import load_facts
    from onboarding.run import RunContext, nightly_schedule
    from onboarding.times import from_iso

    journey = journey_of(cohort)
    latest = store.analytics.latest_run(cohort.id)
    if journey.is_seed or not latest:
        return None
    tz, run_time = nightly_schedule()
    zone = ZoneInfo(tz)
    start = first_night(from_iso(str(latest["as_of"])) + dt.timedelta(seconds=1), zone, run_time)
    moments = nightly_moments(start, start + dt.timedelta(days=nights - 1), zone, run_time)
    address = normalised(email)
    # Another customer matters to her only through a CSM's places: while a placement is still
    # ahead of her, the whole cohort is simulated with her (the places they hold, the queue before her).
    placed = any(a["email"] == address for a in store.journeys.csm_assignments(cohort.id))
    alone = placed or not any(s.assign_csm for s in journey.stages)

    # Loaded once, as of the last night (the page stays fast); each night then keeps the rows at
    # or before its moment, as the decide stage's queries would have read them that night.
    loaded = load_facts(store, cohort, RunContext(str(latest["run_id"]), moments[-1]))
    if not (loaded.customers["email"] == address).any():
        return None
    # Past WHOLE_COHORT customers the page would be slow: she is simulated alone, and the CSM
    # she gets is then the one she would get were she the only customer waiting (the others'
    # places are not counted).
    loaded = _only(loaded, address) if alone or len(loaded.customers) > WHOLE_COHORT else loaded
    return simulate(cohort, journey, lambda m: _as_of(loaded, m, store.staging.event_names(cohort.id, m)),
                    address, moments)


def _as_of(facts: RunFacts, moment: dt.datetime, seen: frozenset[str]) -> RunFacts:
    """Facts loaded as of a later moment, as of ``moment``: the signups and event rows at or
    before it (a customer whose every signup is later is not yet one), the event names seen by then."""
    from onboarding.times import from_iso

    signed = {e: t for e, t in facts.signed_up.items() if t <= moment}
    known = [e not in facts.signed_up or e in signed for e in facts.customers["email"].tolist()]
    return dataclasses.replace(facts, customers=facts.customers[known].reset_index(drop=True), signed_up=signed,
                               events=[r for r in facts.events if from_iso(str(r["at"])) <= moment],
                               seen_events=seen)


def _only(facts: RunFacts, email: str) -> RunFacts:
    """The facts of one customer (the others' rows left out)."""
    return dataclasses.replace(
        facts, customers=facts.customers[(facts.customers["email"] == email).to_numpy()].reset_index(drop=True),
        signed_up={e: t for e, t in facts.signed_up.items() if e == email},
        events=[r for r in facts.events if r["email"] == email],
        approvals=[r for r in facts.approvals if r["email"] == email],
        ledger=facts.ledger[(facts.ledger["recipient"] == email).to_numpy()].reset_index(drop=True))
