"""One reader per export role: what a signups export, a completions export (long or wide), an
events export, a CSM roster and a support export each hold, read into our own fields, with the
reason each row cannot be used (``Check``). The validator (``gx``) runs every check with GX and
quarantines the rows GX names; a reader never decides which rows go, it only says why one would.

Every reader reads the email address, the names, the attributes and the wide timestamp cells the
cohort file maps, and the record itself (a ragged record, a cell the source could not read); each
adds what its role means: a signup's name is required, a completion or an event needs its time,
an event its name and value, a roster its capacities and no CSM twice, a ticket its answer after
its question.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from onboarding.cohorts import SourceConfig
from onboarding.redaction import without_people
from onboarding.sources.table import OVERFLOW, PROBLEM, PROBLEM_COLUMN, ROW
from onboarding.validation.values import (attribute_values, capacities, clean_names, email_problems, event_links,
                                          event_names, event_values, name_problems, normalise_emails, parse_consent,
                                          parse_timestamps)

SHOWN_IN_DOCS = 60  # characters of a refused value a Data Docs page shows


@dataclass
class Check:
    """One reason to quarantine a row, per row (None where the row is fine), as GX checks it."""

    what: str  # what is checked, in words ("email address"): the Data Docs column says it
    column: str  # the export's header a quarantine names
    reasons: pd.Series
    personal: bool = False  # the cell may say who a customer is: Data Docs describe it, never show it
    columns: pd.Series | None = None  # per row, when the column differs by row (a source's own problem)

    @property
    def label(self) -> str:
        """The check as Data Docs title it: the export's column and what is checked."""
        whole = self.columns is not None or self.column == "*"
        return f"{'every record' if whole else self.column}: {self.what}"

    def column_at(self, at: int) -> str:
        return self.column if self.columns is None else self.columns.iloc[at]


@dataclass
class Reading:
    """An export as a reader read it: every row's fields (the validator keeps the good rows'),
    the checks in the order a quarantine lists a row's reasons, and the normalised addresses."""

    emails: pd.Series
    fields: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    later: list[Check] = field(default_factory=list)  # checked after the record's own
    timestamp_column: str | None = None  # the header of the row's one timestamp

    def good(self, keep: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({k: (v[keep].reset_index(drop=True) if isinstance(v, pd.Series) else v[keep])
                             for k, v in self.fields.items()})


class Reader:
    """What every export holds; a role's reader adds its own fields and checks (``_own``)."""

    role: ClassVar[str]
    name_required: ClassVar[bool] = False
    time_field: ClassVar[str | None] = None  # the row's one timestamp (not in a roster or a wide export)
    time_missing: ClassVar[str | None] = None  # the reason when that time is empty (None: optional)
    needs_records: ClassVar[bool] = False  # an export with no rows is refused
    refuses_conflicts: ClassVar[bool] = False  # one customer's rows that disagree refuse the export

    def read(self, raw: pd.DataFrame, config: SourceConfig, tz: str, as_of: Any) -> Reading:
        mapped = dict(config.columns)
        emails = normalise_emails(raw[mapped["email"]])
        out = Reading(emails, {"row": raw[ROW].astype("int64").to_numpy(), "email": emails.to_numpy()},
                      [Check("email address", mapped["email"], email_problems(emails), personal=True)])
        self._names(raw, mapped, out)
        out.fields["consent"] = (parse_consent(raw[mapped["consent"]]).to_numpy() if "consent" in mapped
                                 else np.full(len(raw), None, dtype=object))
        self._time(raw, config, tz, as_of, out)
        self._wide(raw, config, tz, as_of, out)
        self._attributes(raw, config, out)
        self._own(raw, config, out)
        # The link to the evidence (an event's) or to the ticket (a support export's): shown to the
        # approver and in digests, a ticket's matched to its answer.
        links, problem = event_links(raw[mapped["link"]] if "link" in mapped else None, raw.index)
        if "link" in mapped:
            out.checks.append(Check("link", mapped["link"], problem, personal=True))
        if "link" in out.fields:
            out.fields["link"] = links.to_numpy()
        out.checks += _record_checks(raw) + out.later
        return out

    def _names(self, raw: pd.DataFrame, mapped: dict[str, str], out: Reading) -> None:
        """The whole name (or first and last name: "Ann" + "Lee" -> "Ann Lee") and the first name."""
        if "name" in mapped:
            whole, column = raw[mapped["name"]], mapped["name"]
        elif "first_name" in mapped:
            last = raw[mapped["last_name"]].fillna("").astype(str) if "last_name" in mapped else ""
            whole, column = raw[mapped["first_name"]].fillna("").astype(str) + " " + last, mapped["first_name"]
        else:
            whole = column = None
        names = clean_names(whole) if whole is not None else pd.Series("", index=raw.index, dtype=object)
        if whole is not None:
            out.checks.append(Check("name", column, name_problems(whole, names, self.name_required), personal=True))
        first = clean_names(raw[mapped["first_name"]]) if "first_name" in mapped else pd.Series(
            "", index=raw.index, dtype=object)
        if "first_name" in mapped:
            out.checks.append(Check("first name", mapped["first_name"],
                                    name_problems(raw[mapped["first_name"]], first, required=False), personal=True))
        out.fields["name"] = names.replace("", None).to_numpy()
        out.fields["first_name"] = first.replace("", None).to_numpy()

    def _time(self, raw: pd.DataFrame, config: SourceConfig, tz: str, as_of: Any, out: Reading) -> None:
        """The row's one timestamp (a signup's is optional; a completion or an event needs it)."""
        ts_field = None if config.timestamps else self.time_field
        mapped = dict(config.columns)
        stamps = raw[mapped[ts_field]] if ts_field in mapped else pd.Series("", index=raw.index, dtype=object)
        when, problem = parse_timestamps(stamps, tz, config.timestamp_format, as_of)
        if ts_field and self.time_missing:
            problem = problem.where(~(when.isna() & problem.isna()).to_numpy(), self.time_missing)
        if ts_field in mapped:
            out.checks.append(Check("time", mapped[ts_field], problem))
        out.fields["timestamp"] = when
        out.timestamp_column = mapped.get(ts_field, ts_field)

    def _wide(self, raw: pd.DataFrame, config: SourceConfig, tz: str, as_of: Any, out: Reading) -> None:
        """A wide export's timestamp cells, one field each: a filled cell that cannot be read holds
        its customer."""
        stamps: dict[str, pd.Series] = {}
        for f in config.timestamps:
            if f not in config.columns:  # an optional column of a support export (answered_at)
                continue
            stamps[f], problem = parse_timestamps(raw[config.columns[f]], tz, config.timestamp_format, as_of)
            out.later.append(Check("time", config.columns[f], self._cell_problem(f, stamps, problem)))
            out.fields[f"at:{f}"] = stamps[f]

    def _cell_problem(self, f: str, stamps: dict[str, pd.Series], problem: pd.Series) -> pd.Series:
        return problem

    def _attributes(self, raw: pd.DataFrame, config: SourceConfig, out: Reading) -> None:
        """Attributes (a customer's language): only those a row has, {"language": "de"}, or nothing."""
        if not config.attributes:
            return
        values = {}
        for a in config.attributes:
            values[a], problem = attribute_values(raw[config.columns[a]])
            out.later.append(Check("plain text", config.columns[a], problem, personal=True))
        out.fields["attributes"] = np.array(
            [json.dumps(d, sort_keys=True) if d else None
             for d in ({a: v for a, v in zip(values, row) if v is not None}
                       for row in zip(*(values[a].to_numpy() for a in values)))], dtype=object)

    def _own(self, raw: pd.DataFrame, config: SourceConfig, out: Reading) -> None:
        """The role's own fields and checks."""


def _record_checks(raw: pd.DataFrame) -> list[Check]:
    """The record itself: more fields than the header row, or a cell its source could not read
    (a merged cell in a sheet: its own column and reason)."""
    over = np.where(raw[OVERFLOW].astype(bool).to_numpy(), "record has more fields than the header row", None)
    checks = [Check("no more fields than the header row", "*", pd.Series(over, index=raw.index, dtype=object))]
    if PROBLEM in raw.columns:
        checks.append(Check("cells its source could read", PROBLEM_COLUMN, raw[PROBLEM], personal=True, columns=raw[PROBLEM_COLUMN]))
    return checks


class Signups(Reader):
    """A signup names a person; its time is optional."""

    role, name_required, time_field, needs_records = "signups", True, "signed_up_at", True


class Completions(Reader):
    """A completion needs its time; one customer's completions that disagree refuse the export."""

    role, time_field, time_missing, refuses_conflicts = "completions", "completed_at", "missing completion time", True


class WideCompletions(Reader):
    """A journey's wide export: a timestamp cell per stage, none required."""

    role = "completions"


class Events(Reader):
    """An event needs its time and a plain name; its value (a quiz score) a number: a bad one
    quarantines its row, never reaches a decision or an email."""

    role, time_field, time_missing = "events", "at", "missing event time"

    def _own(self, raw: pd.DataFrame, config: SourceConfig, out: Reading) -> None:
        mapped = dict(config.columns)
        events, problem = event_names(raw[mapped["event"]])
        values, value_problem = event_values(raw[mapped["value"]] if "value" in mapped else None, raw.index)
        out.checks.append(Check("event name", mapped["event"], problem))
        if "value" in mapped:
            out.checks.append(Check("value", mapped["value"], value_problem))
        out.fields.update(event=events.to_numpy(), value=values.to_numpy(), link=None)


class Roster(Reader):
    """A CSM roster: each CSM named, with a capacity, listed once (the first row counts)."""

    role, name_required = "csms", True

    def _own(self, raw: pd.DataFrame, config: SourceConfig, out: Reading) -> None:
        column = config.columns["capacity"]
        capacity, problem = capacities(raw[column])
        out.later.append(Check("capacity", column, problem))
        again = (out.emails.duplicated(keep="first") & (out.emails != "")).to_numpy()
        out.later.append(Check("listed once", config.columns["email"], pd.Series(
            np.where(again, "the CSM is listed again (an earlier row has this address; the first row counts)", None),
            index=raw.index, dtype=object), personal=True))
        out.fields["capacity"] = capacity.to_numpy()


class Tickets(Reader):
    """A support export: each ticket asked at a time, answered (if it was) after it was asked."""

    role = "queries"

    def _own(self, raw: pd.DataFrame, config: SourceConfig, out: Reading) -> None:
        out.fields["link"] = None

    def _cell_problem(self, f: str, stamps: dict[str, pd.Series], problem: pd.Series) -> pd.Series:
        if f == "asked_at":
            return problem.where(~(stamps[f].isna() & problem.isna()).to_numpy(), "missing the time asked")
        if f == "answered_at" and "asked_at" in stamps:
            early = (stamps[f] < stamps["asked_at"]).fillna(False).to_numpy(dtype=bool)
            return problem.where(~early, "answered before it was asked")
        return problem


def reader_for(config: SourceConfig) -> Reader:
    """The reader of an export's role (a completions export with a timestamp per stage is wide)."""
    if config.role == "completions" and config.timestamps:
        return WideCompletions()
    return {r.role: r for r in (Signups, Completions, Events, Roster, Tickets)}[config.role]()


def described(value: Any, personal: bool) -> str:
    """A refused cell as a Data Docs page shows it. Data Docs sit in the run folder, which an
    erasure scrubs only of the erased address itself: a cell that may say who someone is (an
    address, even a mistyped one, a name, a link) is shown by its shape alone, letters as 'x' and
    digits as '9' ("xxx@@xxx.xx"); any other (a time, an event name, a number) as it is, cut short,
    with anything shaped like an address masked all the same."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    if not text:
        return "(empty)"
    more = f"... ({len(text):,} characters)" if len(text) > SHOWN_IN_DOCS else ""
    text = text[:SHOWN_IN_DOCS]
    if personal:
        shape = "".join("x" if c.isalpha() else "9" if c.isdigit() else c if c.isprintable() else "?" for c in text)
        return f"redacted: {shape}{more}"
    return repr(without_people(text))[1:-1] + more
