"""Validation of one export with Great Expectations Core.

Two levels, as the instructor needs them:
- dataset problems (a mapped column missing, no records, conflicting duplicate completions) make
  the export unusable: ``DatasetError`` is raised and the cohort sends nothing this run;
- row problems (missing or invalid email, missing name, unparseable timestamp, a ragged record;
  in a journey's exports also a bad event name, value or link, a wide export's unreadable stage
  cell, an attribute that is not plain text, a roster's bad capacity or repeated CSM, a ticket
  answered before it was asked) quarantine that row with its file, row number, column and
  reason; the good rows go on.

The GX validation results are written as JSON beside the run's inputs, and rendered as GX Data
Docs (HTML) in the run's ``validation/data_docs/`` folder, so they stay readable after the run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onboarding.cohorts import SourceConfig
from onboarding.errors import DatasetError
from onboarding.sources.snapshot import Snapshot
from onboarding.sources.table import INTERNAL_COLUMNS, OVERFLOW, PROBLEM, PROBLEM_COLUMN, ROW
from onboarding.validation.values import (attribute_values, capacities, clean_names, email_problems, event_links,
                                          event_names, event_values, name_problems, normalise_emails, parse_consent,
                                          parse_timestamps)

if TYPE_CHECKING:
    import pandas as pd

TIMESTAMP_FIELDS = {"signups": "signed_up_at", "completions": "completed_at", "events": "at"}


@dataclass
class QuarantinedRow:
    source: str  # the export's role (onboarding.cohorts.EXPORT_ROLES)
    file: str
    row: int
    column: str
    value: str
    reason: str
    email: str | None = None  # normalised, when one could be read

    def describe(self) -> str:
        return f"{self.file}, row {self.row}, column {self.column!r}: {self.reason} ({self.value!r})"


@dataclass
class ValidatedExport:
    role: str
    snapshot: Snapshot
    frame: "pd.DataFrame"  # the good rows: row, email, name, timestamp (UTC, or none)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    results_path: str | None = None
    total_rows: int = 0

    def column_events(self, names: dict[str, str]) -> "pd.DataFrame":
        """A wide export's filled timestamp cells as event rows (``row``, ``email``, ``event``,
        ``timestamp``, ``value``, ``link``), each field's cells under its event name: the
        evidence a journey reads from its columns (``completions/<column>``), or a support
        export's tickets (asked, answered, with their link)."""
        import pandas as pd

        link = self.frame["link"] if "link" in self.frame else None
        parts = [pd.DataFrame({"row": self.frame["row"], "email": self.frame["email"], "name": self.frame["name"],
                               "event": event, "timestamp": self.frame[f"at:{f}"], "value": None,
                               "link": link}).dropna(subset=["timestamp"])
                 for f, event in names.items() if f"at:{f}" in self.frame]
        return pd.concat(parts, ignore_index=True) if parts else self.frame.iloc[0:0]

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The good rows as dicts (for small exports and tests)."""
        return [{"row": int(r["row"]), "email": r["email"], "name": r["name"],
                 "timestamp": None if r["timestamp"] is None or r["timestamp"] != r["timestamp"] else r["timestamp"]}
                for r in self.frame.to_dict("records")]


MAX_SHOWN = 200  # characters of a refused value kept for the instructor (a cell may hold megabytes)


def _shape(raw: "pd.DataFrame") -> "pd.DataFrame":
    """The export's columns and number of rows, without its values: what the dataset-level
    expectations (columns exist, there are records) look at, cheap for GX to fingerprint."""
    import numpy as np
    import pandas as pd

    empty = pd.Categorical.from_codes(np.zeros(len(raw), dtype=np.int8), categories=[""])
    return pd.DataFrame({c: empty for c in raw.columns}, index=raw.index)


def _reasons(values: "pd.Series") -> "pd.Categorical":
    """A column of reasons (None where the value is fine) as categories."""
    import pandas as pd

    return pd.Categorical(values.to_numpy(dtype=object))


def _shown(value: Any) -> str:
    """A refused cell as kept in the quarantine table: text, cut short when huge."""
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def check_completions_against_signups(signups: ValidatedExport, completions: ValidatedExport,
                                      tz: str) -> ValidatedExport:
    """A completion dated before the customer first signed up cannot be right: it is quarantined
    (so the customer is held and the instructor told), never used."""
    import pandas as pd

    first = signups.frame.dropna(subset=["timestamp"]).groupby("email")["timestamp"].min()
    if first.empty or completions.frame.empty:
        return completions
    signed = completions.frame["email"].map(first)
    early = (completions.frame["timestamp"] < signed).fillna(False).to_numpy(dtype=bool)
    if not early.any():
        return completions
    column = completions.frame.attrs.get("timestamp_column", "completed_at")
    flagged = [QuarantinedRow("completions", completions.snapshot.location, int(r.row), column,
                              pd.Timestamp(r.timestamp).tz_convert(tz).strftime("%Y-%m-%d %H:%M"),
                              f"completed before the customer signed up "
                              f"({pd.Timestamp(s).tz_convert(tz):%Y-%m-%d %H:%M %Z})", r.email)
               for r, s in zip(completions.frame[early].itertuples(index=False), signed[early])]
    return ValidatedExport(completions.role, completions.snapshot, completions.frame[~early].reset_index(drop=True),
                           sorted(completions.quarantined + flagged, key=lambda q: q.row),
                           completions.results_path, completions.total_rows)


def quiet_gx() -> None:
    """GX logs every function it registers and every temporary folder it makes at INFO (nine in
    ten lines of a validate task's log); the data team needs GX's warnings, not that."""
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def _gx_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


class Validator:
    """Holds one ephemeral GX context (it takes seconds to build) for all exports of a task."""

    def __init__(self, run_name: str | None = None):
        quiet_gx()
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        self.gx = gx
        self.ctx = _gx_context()
        # Data Docs name each validation by the Airflow run it belongs to.
        self.run_id = RunIdentifier(run_name=run_name) if run_name else None
        self.asset = self.ctx.data_sources.add_pandas("exports").add_dataframe_asset("export")
        self.batch = self.asset.add_batch_definition_whole_dataframe("whole")
        self._n = 0

    def _run(self, name: str, df: "pd.DataFrame", expectations: list) -> Any:
        self._n += 1
        suite = self.ctx.suites.add(self.gx.ExpectationSuite(name=f"{name}-{self._n}", expectations=expectations))
        vd = self.ctx.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"{name}-{self._n}", data=self.batch, suite=suite))
        return vd.run(batch_parameters={"dataframe": df}, run_id=self.run_id,
                      result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]})

    def build_data_docs(self, directory: Path) -> Path:
        """Render every validation this validator ran as a GX Data Docs site in ``directory``;
        returns its index.html. The site stands alone: a copied run folder shows the same pages.

        With the files ``docs_assets.fetch`` keeps (setup fetches them) it renders offline: its
        pages load only ``static/`` files of its own (hard links: no space). Without them the
        pages load their styles from CDNs as GX writes them, beside GX's own ~4 MB of static files."""
        import logging
        import shutil

        from onboarding.validation import docs_assets

        name = f"site-{id(self)}"
        self.ctx.add_data_docs_site(name, {
            "class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)}})
        self.ctx.build_data_docs(site_names=[name])
        static = directory / "static"
        absent = docs_assets.missing()
        if absent:
            logging.getLogger(__name__).warning(
                "Data Docs load their styles and scripts from public CDNs (offline they show unstyled): "
                "%d file(s) missing under %s; run scripts/setup.sh (python -m onboarding.ops.docs_assets)",
                len(absent), docs_assets.vendor_dir())
            return directory / "index.html"
        gx_static = directory / ".gx-static"
        static.rename(gx_static)
        try:
            remote = docs_assets.make_offline(directory, gx_static=gx_static)
        finally:
            shutil.rmtree(gx_static, ignore_errors=True)
        if remote:
            logging.getLogger(__name__).warning("Data Docs still load from the network: %s", remote)
        return directory / "index.html"

    def validate(self, raw: "pd.DataFrame", config: SourceConfig, snapshot: Snapshot, cohort_tz: str,
                 results_dir: Any = None, as_of: dt.datetime | None = None) -> ValidatedExport:
        """Validate one export's table: ``DatasetError`` when it is unusable, else its good rows and
        its quarantined ones. ``as_of`` (the run's moment) bounds plausible timestamps."""
        import great_expectations.expectations as gxe
        import numpy as np
        import pandas as pd

        role, file = config.role, snapshot.location
        mapped = dict(config.columns)  # every field the cohort file maps (checked when it was read)
        results: dict[str, Any] = {"file": file, "snapshot": snapshot.path, "sha256": snapshot.sha256}

        # 1. Dataset level: the mapped columns exist (once) and there is at least one record.
        dupes = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
        if dupes:
            raise DatasetError(f"{file}: column(s) {dupes} appear more than once in the header row")
        dataset_exps = [gxe.ExpectColumnToExist(column=col, meta={"field": f}) for f, col in mapped.items()]
        if role == "signups":
            # No signups is never real. No completions is, early on; deciding on an empty completion
            # list after the deadline is refused later, in the decide stage.
            dataset_exps.append(gxe.ExpectTableRowCountToBeBetween(min_value=1))
        res = self._run(f"{role}-dataset", _shape(raw), dataset_exps)
        results["dataset"] = res.to_json_dict()
        problems = []
        for r in res.results:
            if r.success:
                continue
            kw = r.expectation_config.kwargs
            if "column" in kw:
                headers = [c for c in raw.columns if c not in INTERNAL_COLUMNS]
                problems.append(f"column {kw['column']!r} (mapped as '{r.expectation_config.meta['field']}') "
                                f"is missing; the header row has {headers}{raw.attrs.get('hint', '')}")
            else:
                problems.append("the export has no records")
        if problems:
            self._save(results, results_dir, role)
            raise DatasetError(f"{file}: " + "; ".join(problems))

        # 2. Read the values into our own fields. Each reader says, per row, why a value cannot be
        # used; GX checks those reason columns (never the raw text, which may be hostile), held as
        # categories, so that GX's fingerprint of the table costs little at a million rows.
        tz = config.timezone or cohort_tz
        wide = config.timestamps  # a journey's wide export: a timestamp column per stage, none required
        ts_field = None if wide or role == "csms" else TIMESTAMP_FIELDS[role]
        emails = normalise_emails(raw[mapped["email"]])
        name_column = mapped.get("name") or mapped.get("first_name") or "name"
        if "name" in mapped:
            whole = raw[mapped["name"]]
        elif "first_name" in mapped:
            # No whole-name column: first and last name make it ("Ann" + "Lee" -> "Ann Lee").
            last = raw[mapped["last_name"]].fillna("").astype(str) if "last_name" in mapped else ""
            whole = raw[mapped["first_name"]].fillna("").astype(str) + " " + last
        else:
            whole = None
        if whole is not None:
            names = clean_names(whole)
            name_problem = name_problems(whole, names, required=role in ("signups", "csms"))
        else:
            names = pd.Series("", index=raw.index, dtype=object)
            name_problem = pd.Series(None, index=raw.index, dtype=object)
        if "first_name" in mapped:
            first_names = clean_names(raw[mapped["first_name"]])
            first_problem = name_problems(raw[mapped["first_name"]], first_names, required=False)
        else:
            first_names = pd.Series("", index=raw.index, dtype=object)
            first_problem = pd.Series(None, index=raw.index, dtype=object)
        stamps = raw[mapped[ts_field]] if ts_field in mapped else pd.Series("", index=raw.index, dtype=object)
        when, ts_problem = parse_timestamps(stamps, tz, config.timestamp_format, as_of)
        if role in ("completions", "events") and not wide:
            # A completion (an event) needs its time; a signup's time is optional.
            ts_problem = ts_problem.where(~(when.isna() & ts_problem.isna()).to_numpy(),
                                         f"missing {'completion' if role == 'completions' else 'event'} time")
        if role == "events":
            # An event's name and its value (a quiz score) are read like every other cell: a bad
            # one quarantines its row, never reaches a decision or an email.
            events, event_problem = event_names(raw[mapped["event"]])
            values, value_problem = event_values(raw[mapped["value"]] if "value" in mapped else None, raw.index)
        else:
            event_problem = value_problem = pd.Series(None, index=raw.index, dtype=object)
        # The link to the evidence (an event's) or to the ticket (a support export's): shown to the
        # approver and in digests, a ticket's matched to its answer.
        links, link_problem = event_links(raw[mapped["link"]] if "link" in mapped else None, raw.index)
        # Per-column readers beyond the fixed ones, each with its reason column for GX: the wide
        # export's timestamp cells (a filled cell that cannot be read holds its customer), the
        # attributes (a customer's language), a roster's capacity and its repeated CSMs.
        extra: dict[str, tuple[Any, str]] = {}
        stamps_of: dict[str, Any] = {}
        for f in wide:
            if f not in mapped:  # an optional column of a support export (answered_at)
                continue
            stamps_of[f], problem = parse_timestamps(raw[mapped[f]], tz, config.timestamp_format, as_of)
            if role == "queries" and f == "asked_at":
                problem = problem.where(~(stamps_of[f].isna() & problem.isna()).to_numpy(), "missing the time asked")
            if role == "queries" and f == "answered_at" and "asked_at" in stamps_of:
                early = (stamps_of[f] < stamps_of["asked_at"]).fillna(False).to_numpy(dtype=bool)
                problem = problem.where(~early, "answered before it was asked")
            extra[f"at_problem:{f}"] = (problem, mapped[f])
        attrs_of: dict[str, Any] = {}
        for a in config.attributes:
            attrs_of[a], problem = attribute_values(raw[mapped[a]])
            extra[f"attribute_problem:{a}"] = (problem, mapped[a])
        if role == "csms":
            capacity, problem = capacities(raw[mapped["capacity"]])
            extra["capacity_problem"] = (problem, mapped["capacity"])
            again = (emails.duplicated(keep="first") & (emails != "")).to_numpy()
            extra["repeat_problem"] = (pd.Series(np.where(again, "the CSM is listed again (an earlier row has "
                                                                 "this address; the first row counts)", None),
                                                 index=raw.index, dtype=object), mapped["email"])
        source_problem = raw[PROBLEM] if PROBLEM in raw.columns else pd.Series(None, index=raw.index, dtype=object)
        frame = pd.DataFrame({
            ROW: raw[ROW].astype("int64").to_numpy(), OVERFLOW: raw[OVERFLOW].astype(bool).to_numpy(),
            "email_problem": _reasons(email_problems(emails)), "name_problem": _reasons(name_problem),
            "first_name_problem": _reasons(first_problem),
            "timestamp_problem": _reasons(ts_problem), PROBLEM: _reasons(source_problem),
            "event_problem": _reasons(event_problem), "value_problem": _reasons(value_problem),
            "link_problem": _reasons(link_problem),
            **{name: _reasons(problem) for name, (problem, _) in extra.items()}})

        # 3. Row level: each failed expectation names the rows (by _row) it failed on.
        checks: list[tuple[Any, str]] = [
            (gxe.ExpectColumnValuesToBeNull(column="email_problem"), mapped["email"]),
            (gxe.ExpectColumnValuesToBeNull(column="name_problem"), name_column),
            (gxe.ExpectColumnValuesToBeNull(column="first_name_problem"), mapped.get("first_name", "first_name")),
            (gxe.ExpectColumnValuesToBeNull(column="timestamp_problem"), mapped.get(ts_field, ts_field)),
            (gxe.ExpectColumnValuesToBeNull(column="event_problem"), mapped.get("event", "event")),
            (gxe.ExpectColumnValuesToBeNull(column="value_problem"), mapped.get("value", "value")),
            (gxe.ExpectColumnValuesToBeNull(column="link_problem"), mapped.get("link", "link")),
            (gxe.ExpectColumnValuesToBeInSet(column=OVERFLOW, value_set=[False]), "*"),
            # A problem the source itself found (a merged cell in a sheet): its own column and reason.
            (gxe.ExpectColumnValuesToBeNull(column=PROBLEM), PROBLEM_COLUMN),
            *((gxe.ExpectColumnValuesToBeNull(column=name), header) for name, (_, header) in extra.items()),
        ]
        res = self._run(f"{role}-rows", frame, [c[0] for c in checks])
        results["rows"] = res.to_json_dict()
        numbers = frame[ROW].to_numpy()  # increasing: records are numbered in file order
        bad: dict[int, list[QuarantinedRow]] = {}
        for (exp, column), r in zip(checks, res.results):
            if r.success:
                continue
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise DatasetError(f"{file}: validation could not run: {r.exception_info.get('exception_message')}")
            field = exp.column
            for hit in r.result.get("unexpected_index_list") or []:
                row = int(hit[ROW])
                at = int(np.searchsorted(numbers, row))
                col = column
                if field == OVERFLOW:
                    why = "record has more fields than the header row"
                elif field == PROBLEM:
                    col, why = raw[PROBLEM_COLUMN].iloc[at], raw[PROBLEM].iloc[at]
                else:
                    why = frame[field].iloc[at]
                value = _shown(raw[col].iloc[at]) if col in raw.columns else ""
                found = bad.setdefault(row, [])
                if not any(q.column == col and q.reason == why for q in found):  # one cell, one reason, once
                    found.append(QuarantinedRow(role, file, row, col, value, why, emails.iloc[at] or None))

        if PROBLEM in raw.columns:
            # Where the source explained a cell (a merged range), that explanation replaces the
            # generic one ("missing name") for the same cell.
            for row, found in bad.items():
                explanation = raw[PROBLEM].iloc[int(np.searchsorted(numbers, row))]
                explained = {q.column for q in found if explanation == q.reason}
                bad[row] = [q for q in found if q.column not in explained or q.reason == explanation]
        keep = ~frame[ROW].isin(bad).to_numpy()
        good = pd.DataFrame({"row": frame[ROW].to_numpy()[keep], "email": emails.to_numpy()[keep],
                             "name": names.replace("", None).to_numpy()[keep],
                             "first_name": first_names.replace("", None).to_numpy()[keep],
                             "consent": (parse_consent(raw[mapped["consent"]]).to_numpy()[keep] if "consent" in mapped
                                         else np.full(int(keep.sum()), None, dtype=object)),
                             "timestamp": when[keep].reset_index(drop=True)})
        for f, stamps in stamps_of.items():
            good[f"at:{f}"] = stamps[keep].reset_index(drop=True)
        if attrs_of:
            # Only the attributes a row has: {"language": "de"}, or nothing.
            good["attributes"] = [json.dumps(d, sort_keys=True) if d else None for d in (
                {a: v for a, v in zip(attrs_of, values) if v is not None}
                for values in zip(*(attrs_of[a].to_numpy()[keep] for a in attrs_of)))]
        if role == "csms":
            good["capacity"] = capacity.to_numpy()[keep]
        if role == "events":
            good["event"] = events.to_numpy()[keep]
            good["value"] = values.to_numpy()[keep]
        if role in ("events", "queries"):
            good["link"] = links.to_numpy()[keep]
        quarantined = [q for row in sorted(bad) for q in bad[row]]

        # 4. Dataset level again: the same person completing twice with different data is a
        # conflict we cannot settle, so the export is refused rather than guessed at.
        if role == "completions" and not wide and len(good):
            distinct = good.drop_duplicates(subset=["email", "timestamp"])
            twice = distinct["email"].duplicated(keep=False).to_numpy()
            res = self._run("completions-conflicts", pd.DataFrame({ROW: distinct["row"].to_numpy(), "email": pd.Categorical(
                distinct["email"].to_numpy())}), [gxe.ExpectColumnValuesToBeUnique(column="email")])
            results["conflicts"] = res.to_json_dict()
            if not res.success:
                emails_twice = sorted(set(distinct["email"].to_numpy()[twice]))
                rows_of = good[good["email"].isin(emails_twice[:10])].groupby("email")["row"].apply(list)
                detail = "; ".join(f"{e}: rows {', '.join(str(r) for r in rows_of[e])}" for e in emails_twice[:10])
                self._save(results, results_dir, role)
                raise DatasetError(f"{file}: {len(emails_twice)} customer(s) have completion records that disagree "
                                   f"(column {mapped['completed_at']!r}): {detail}")
        good.attrs["timestamp_column"] = mapped.get(ts_field, ts_field)
        out = ValidatedExport(role=role, snapshot=snapshot, frame=good, quarantined=quarantined,
                              total_rows=len(raw))
        out.results_path = self._save(results, results_dir, role)
        return out

    @staticmethod
    def _save(results: dict, results_dir: Any, role: str) -> str | None:
        if results_dir is None:
            return None
        from onboarding import storage

        path = results_dir / f"{role}.gx.json"
        storage.write_text(path, json.dumps(results, indent=1, default=str))
        return storage.display(path)
