"""Validation of one export with Great Expectations Core.

Two levels, as the instructor needs them:
- dataset problems (a mapped column missing, no records, conflicting duplicate completions) make
  the export unusable: ``DatasetError`` is raised and the cohort sends nothing this run;
- row problems (missing or invalid email, missing name, unparseable timestamp, a ragged record;
  in a journey's exports also a bad event name, value or link, a wide export's unreadable stage
  cell, an attribute that is not plain text, a roster's bad capacity or repeated CSM, a ticket
  answered before it was asked) quarantine that row with its file, row number, column and
  reason; the good rows go on. Each export role has its reader (``readers``), which owns its
  columns, its checks and its reasons; GX runs the checks and names the rows that fail them.

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
from onboarding.sources.table import INTERNAL_COLUMNS, OVERFLOW, PROBLEM, ROW
from onboarding.validation.readers import Check, Reading, described, reader_for

if TYPE_CHECKING:
    import pandas as pd


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
    """Holds one ephemeral GX context (it takes seconds to build) for all exports of a task; each
    export is read by its role's reader (``readers``) and checked by GX, which names the rows to
    quarantine."""

    def __init__(self, run_name: str | None = None, cohort: str | None = None):
        quiet_gx()
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        self.gx = gx
        self.ctx = _gx_context()
        # Data Docs name each validation by the Airflow run it belongs to, and its data by the export.
        self.run_id = RunIdentifier(run_name=run_name) if run_name else None
        self.run_name, self.cohort = run_name, cohort
        self.asset = self.ctx.data_sources.add_pandas("exports").add_dataframe_asset("export")
        self.batch = self.asset.add_batch_definition_whole_dataframe("whole")
        self.export: str | None = None  # the export being validated, as Data Docs name its data
        self._n = 0

    def _run(self, name: str, df: "pd.DataFrame", expectations: list) -> Any:
        self._n += 1
        suite = self.ctx.suites.add(self.gx.ExpectationSuite(name=f"{name}-{self._n}", expectations=expectations))
        vd = self.ctx.validation_definitions.add(
            self.gx.ValidationDefinition(name=f"{name}-{self._n}", data=self.batch, suite=suite))
        res = vd.run(batch_parameters={"dataframe": df}, run_id=self.run_id,
                     result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]})
        if self.export:
            # A dataframe's batch carries no name: Data Docs would say "Data asset: None".
            res.meta["batch_spec"] = {**res.meta.get("batch_spec", {}), "data_asset_name": self.export}
            store = self.ctx.validation_results_store
            for key in store.list_keys():
                if key.expectation_suite_identifier.name == suite.name:
                    store.set(key, res)
        return res

    def build_data_docs(self, directory: Path) -> Path:
        """Render every validation this validator ran as a GX Data Docs site in ``directory``;
        returns its index.html. The site stands alone: a copied run folder shows the same pages,
        each with a link back to the cohort's Onboarding page (where the site is served).

        With the files ``docs_assets.fetch`` keeps (setup fetches them) it renders offline: its
        pages load only ``static/`` files of its own (hard links: no space). Without them the
        pages load their styles from CDNs as GX writes them, beside GX's own ~4 MB of static files."""
        import logging
        import shutil

        from onboarding.validation import docs_assets

        name = f"Validation of cohort {self.cohort}" if self.cohort else "Validation of the exports"
        name += f", run {self.run_name}" if self.run_name else ""
        self.ctx.add_data_docs_site(name, {
            "class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)}})
        self.ctx.build_data_docs(site_names=[name])
        if self.cohort:
            docs_assets.link_back(directory, self.cohort)
        absent = docs_assets.missing()
        if absent:
            logging.getLogger(__name__).warning(
                "Data Docs load their styles and scripts from public CDNs (offline they show unstyled): "
                "%d file(s) missing under %s; run scripts/setup.sh (python -m onboarding.ops.docs_assets)",
                len(absent), docs_assets.vendor_dir())
            return directory / "index.html"
        gx_static = directory / ".gx-static"
        (directory / "static").rename(gx_static)
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
        import numpy as np

        role, file = config.role, snapshot.location
        reader = reader_for(config)
        name = file.replace("\\", "/").rsplit("/", 1)[-1] if config.type == "csv" else file
        self.export = f"{name} of cohort {self.cohort}" if self.cohort else name
        results: dict[str, Any] = {"file": file, "snapshot": snapshot.path, "sha256": snapshot.sha256}
        problems = self._check_dataset(raw, config, file, reader.needs_records, results)
        if problems:
            self._save(results, results_dir, role)
            raise DatasetError(f"{file}: " + "; ".join(problems))
        # Each reader says, per row, why a value cannot be used; GX checks those reasons (never the
        # raw text, which may be hostile), held as categories, so that GX's fingerprint of the table
        # costs little at a million rows.
        reading = reader.read(raw, config, config.timezone or cohort_tz, as_of)
        bad = self._check_rows(raw, reading, role, file, results)
        good = reading.good(~np.isin(reading.fields["row"], np.fromiter(bad, dtype="int64", count=len(bad))))
        if reader.refuses_conflicts and len(good):
            self._check_conflicts(good, config, file, results, results_dir)
        good.attrs["timestamp_column"] = reading.timestamp_column
        out = ValidatedExport(role=role, snapshot=snapshot, frame=good, total_rows=len(raw),
                              quarantined=[q for row in sorted(bad) for q in bad[row]])
        out.results_path = self._save(results, results_dir, role)
        return out

    def _check_dataset(self, raw: "pd.DataFrame", config: SourceConfig, file: str, needs_records: bool,
                       results: dict[str, Any]) -> list[str]:
        """The mapped columns exist (once) and, where the role needs them, there are records: what
        is wrong, if anything. No signups is never real; no completions is, early on (deciding on
        an empty completion list after the deadline is refused later, in the decide stage)."""
        import great_expectations.expectations as gxe

        dupes = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
        if dupes:
            raise DatasetError(f"{file}: column(s) {dupes} appear more than once in the header row")
        expectations = [gxe.ExpectColumnToExist(column=col, meta={"field": f}) for f, col in config.columns.items()]
        if needs_records:
            expectations.append(gxe.ExpectTableRowCountToBeBetween(min_value=1))
        res = self._run(f"{config.role}-dataset", _shape(raw), expectations)
        results["dataset"] = res.to_json_dict()
        headers = [c for c in raw.columns if c not in INTERNAL_COLUMNS]
        return [f"column {r.expectation_config.kwargs['column']!r} (mapped as '{r.expectation_config.meta['field']}') "
                f"is missing; the header row has {headers}{raw.attrs.get('hint', '')}"
                if "column" in r.expectation_config.kwargs else "the export has no records"
                for r in res.results if not r.success]

    def _check_rows(self, raw: "pd.DataFrame", reading: Reading, role: str, file: str,
                    results: dict[str, Any]) -> dict[int, list[QuarantinedRow]]:
        """Row level: GX checks each of the reader's checks; each failed one names the rows (by
        their number) it failed on, and each becomes a quarantined cell with its reason, once."""
        import great_expectations.expectations as gxe
        import numpy as np

        labels = _labels(reading.checks)
        frame = _checked_frame(raw, reading.checks, labels)
        res = self._run(f"{role}-rows", frame, [gxe.ExpectColumnValuesToBeNull(column=c) for c in labels])
        results["rows"] = res.to_json_dict()
        numbers = frame[ROW].to_numpy()  # increasing: records are numbered in file order
        bad: dict[int, list[QuarantinedRow]] = {}
        for check, r in zip(reading.checks, res.results):
            if r.success:
                continue
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise DatasetError(f"{file}: validation could not run: {r.exception_info.get('exception_message')}")
            for hit in r.result.get("unexpected_index_list") or []:
                row = int(hit[ROW])
                at = int(np.searchsorted(numbers, row))
                col, why = check.column_at(at), check.reasons.iloc[at]
                value = _shown(raw[col].iloc[at]) if col in raw.columns else ""
                found = bad.setdefault(row, [])
                if not any(q.column == col and q.reason == why for q in found):  # one cell, one reason, once
                    found.append(QuarantinedRow(role, file, row, col, value, why, reading.emails.iloc[at] or None))
        if PROBLEM in raw.columns:
            # Where the source explained a cell (a merged range), that explanation replaces the
            # generic one ("missing name") for the same cell.
            for row, found in bad.items():
                explanation = raw[PROBLEM].iloc[int(np.searchsorted(numbers, row))]
                explained = {q.column for q in found if explanation == q.reason}
                bad[row] = [q for q in found if q.column not in explained or q.reason == explanation]
        return bad

    def _check_conflicts(self, good: "pd.DataFrame", config: SourceConfig, file: str, results: dict[str, Any],
                         results_dir: Any) -> None:
        """Dataset level again: the same person completing twice with different data is a conflict
        we cannot settle, so the export is refused rather than guessed at."""
        import great_expectations.expectations as gxe
        import pandas as pd

        # Only the two columns GX reads, of the distinct (email, time) pairs: no copy of the table.
        distinct = ~good.duplicated(subset=["email", "timestamp"]).to_numpy()
        emails = good["email"][distinct]
        res = self._run("completions-conflicts", pd.DataFrame({ROW: good["row"].to_numpy()[distinct], "email": pd.Categorical(
            emails)}), [gxe.ExpectColumnValuesToBeUnique(column="email")])
        results["conflicts"] = res.to_json_dict()
        if res.success:
            return
        emails_twice = sorted(set(emails[emails.duplicated(keep=False).to_numpy()].tolist()))
        rows_of = good[good["email"].isin(emails_twice[:10])].groupby("email")["row"].apply(list)
        detail = "; ".join(f"{e}: rows {', '.join(str(r) for r in rows_of[e])}" for e in emails_twice[:10])
        self._save(results, results_dir, config.role)
        raise DatasetError(f"{file}: {len(emails_twice)} customer(s) have completion records that disagree "
                           f"(column {config.columns['completed_at']!r}): {detail}")

    @staticmethod
    def _save(results: dict, results_dir: Any, role: str) -> str | None:
        if results_dir is None:
            return None
        from onboarding import storage

        path = results_dir / f"{role}.gx.json"
        storage.write_text(path, json.dumps(results, indent=1, default=str))
        return storage.display(path)


def _labels(checks: list[Check]) -> list[str]:
    """Each check's column in the table GX reads: the export's header and what is checked
    ("Email: email address"), unique."""
    labels: list[str] = []
    for c in checks:
        label = c.label
        while label in labels or label in (ROW, OVERFLOW):
            label += " (again)"
        labels.append(label)
    return labels


def _checked_frame(raw: "pd.DataFrame", checks: list[Check], labels: list[str]) -> "pd.DataFrame":
    """The table GX checks: each row's number, and per check the reason (None where the row is
    fine) with the refused value as Data Docs may show it (``readers.described``). GX writes a
    failing value into its pages as HTML, unescaped: it is escaped here (a cell may be hostile)."""
    import html

    import numpy as np
    import pandas as pd

    columns = {ROW: raw[ROW].astype("int64").to_numpy()}
    for check, label in zip(checks, labels):
        reasons = check.reasons.to_numpy(dtype=object)
        cells = np.full(len(reasons), None, dtype=object)
        for at in np.flatnonzero(pd.notna(reasons)):
            col = check.column_at(at)
            value = raw[col].iloc[at] if col in raw.columns else None
            cells[at] = html.escape(f"{reasons[at]}: {described(value, check.personal)}")
        columns[label] = pd.Categorical(cells)
    return pd.DataFrame(columns)
