"""Validation of one export with Great Expectations Core.

Two levels, as the instructor needs them:
- dataset problems (a mapped column missing, no records, conflicting duplicate completions) make
  the export unusable: ``DatasetError`` is raised and the cohort sends nothing this run;
- row problems (missing or invalid email, missing name, unparseable timestamp, a ragged record)
  quarantine that row with its file, row number, column and reason; the good rows go on.

The GX validation results are written as JSON beside the run's inputs, and rendered as GX Data
Docs (HTML) in the run's ``validation/data_docs/`` folder, so they stay readable after the run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from onboarding.cohorts import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SourceConfig
from onboarding.errors import DatasetError
from onboarding.sources.snapshot import Snapshot
from onboarding.sources.table import INTERNAL_COLUMNS, OVERFLOW, PROBLEM, PROBLEM_COLUMN, ROW
from onboarding.validation.values import EMAIL_REGEX, clean_name, describe_formats, normalise_email, parse_timestamp

if TYPE_CHECKING:
    import pandas as pd

TIMESTAMP_FIELDS = {"signups": "signed_up_at", "completions": "completed_at"}


@dataclass
class QuarantinedRow:
    source: str  # signups / completions
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

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The good rows as dicts (for small exports and tests)."""
        return [{"row": int(r["row"]), "email": r["email"], "name": r["name"],
                 "timestamp": None if r["timestamp"] is None or r["timestamp"] != r["timestamp"] else r["timestamp"]}
                for r in self.frame.to_dict("records")]


def _gx_context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


class Validator:
    """Holds one ephemeral GX context (it takes seconds to build) for all exports of a task."""

    def __init__(self, run_name: str | None = None):
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

    def build_data_docs(self, directory: Path, shared_static: Path | None = None) -> Path:
        """Render every validation this validator ran as a GX Data Docs site in ``directory``;
        returns its index.html. GX copies ~4 MB of fonts, images and styles into each site: with
        ``shared_static``, sites share one copy of them (a symlink), so a nightly run costs kB."""
        import shutil

        name = f"site-{id(self)}"
        self.ctx.add_data_docs_site(name, {
            "class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)}})
        self.ctx.build_data_docs(site_names=[name])
        static = directory / "static"
        if shared_static is not None and static.is_dir() and not static.is_symlink():
            if not shared_static.exists():
                shared_static.parent.mkdir(parents=True, exist_ok=True)
                tmp = shared_static.with_name(f"{shared_static.name}.{os.getpid()}")
                shutil.copytree(static, tmp)
                try:
                    tmp.rename(shared_static)
                except OSError:  # another task put it there first
                    shutil.rmtree(tmp)
            shutil.rmtree(static)
            # Relative, so a copy of the whole data folder keeps its sites' styles.
            static.symlink_to(os.path.relpath(shared_static, directory), target_is_directory=True)
        return directory / "index.html"

    def validate(self, raw: "pd.DataFrame", config: SourceConfig, snapshot: Snapshot, cohort_tz: str,
                 results_dir: Path | None = None) -> ValidatedExport:
        import great_expectations.expectations as gxe
        import pandas as pd

        role, file = config.role, snapshot.location
        mapped = {f: config.columns[f] for f in REQUIRED_COLUMNS[role] + OPTIONAL_COLUMNS[role]
                  if f in config.columns}
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
        res = self._run(f"{role}-dataset", raw, dataset_exps)
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

        # 2. Normalise into our own fields; keep what cannot be read as a flag for GX to report.
        tz = ZoneInfo(config.timezone or cohort_tz)
        ts_field = TIMESTAMP_FIELDS[role]
        frame = pd.DataFrame({ROW: raw[ROW].astype(int), OVERFLOW: raw[OVERFLOW].astype(bool)})
        frame[PROBLEM] = raw[PROBLEM] if PROBLEM in raw.columns else None
        frame["email"] = raw[mapped["email"]].map(normalise_email).replace("", None)
        frame["name"] = raw[mapped["name"]].map(clean_name).replace("", None) if "name" in mapped else None
        stamps, ok = [], []
        for value in (raw[mapped[ts_field]] if ts_field in mapped else [""] * len(raw)):
            text = str(value).strip()
            if not text:
                stamps.append(None)
                # A completion needs its time; a signup's time is optional.
                ok.append(role != "completions")
                continue
            try:
                stamps.append(parse_timestamp(text, tz, config.timestamp_format))
                ok.append(True)
            except ValueError:
                stamps.append(None)
                ok.append(False)
        frame[ts_field] = stamps
        frame[f"{ts_field}_readable"] = ok

        # 3. Row level: each failed expectation names the rows (by _row) it failed on.
        checks: list[tuple[Any, str, str]] = [
            (gxe.ExpectColumnValuesToNotBeNull(column="email"), mapped["email"], "missing email"),
            (gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX), mapped["email"],
             "invalid email address"),
            (gxe.ExpectColumnValuesToBeInSet(column=f"{ts_field}_readable", value_set=[True]),
             mapped.get(ts_field, ts_field),
             f"unparseable timestamp (expected {describe_formats(config.timestamp_format)})"),
            (gxe.ExpectColumnValuesToBeInSet(column=OVERFLOW, value_set=[False]), "*",
             "record has more fields than the header row"),
            # A problem the source itself found (a merged cell in a sheet): its own column and reason.
            (gxe.ExpectColumnValuesToBeNull(column=PROBLEM), PROBLEM_COLUMN, PROBLEM),
        ]
        if role == "signups":
            checks.append((gxe.ExpectColumnValuesToNotBeNull(column="name"), mapped["name"], "missing name"))
        res = self._run(f"{role}-rows", frame, [c[0] for c in checks])
        results["rows"] = res.to_json_dict()
        raw_by_row = raw.set_index(ROW)
        bad: dict[int, list[QuarantinedRow]] = {}
        for (exp, column, reason), r in zip(checks, res.results):
            if r.success:
                continue
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise DatasetError(f"{file}: validation could not run: {r.exception_info.get('exception_message')}")
            for hit in r.result.get("unexpected_index_list") or []:
                row = int(hit[ROW])
                col, why = column, reason
                if column == PROBLEM_COLUMN:
                    col, why = raw_by_row.at[row, PROBLEM_COLUMN], raw_by_row.at[row, PROBLEM]
                value = str(raw_by_row.at[row, col]) if col in raw_by_row.columns else ""
                email = frame.loc[frame[ROW] == row, "email"].iloc[0]
                bad.setdefault(row, []).append(QuarantinedRow(role, file, row, col, value, why, email))

        if PROBLEM in raw.columns:
            # Where the source explained a cell (a merged range), that explanation replaces the
            # generic one ("missing name") for the same cell.
            for row, found in bad.items():
                explained = {q.column for q in found if raw_by_row.at[row, PROBLEM] == q.reason}
                bad[row] = [q for q in found if q.column not in explained or q.reason == raw_by_row.at[row, PROBLEM]]
        good = frame.loc[~frame[ROW].isin(bad), [ROW, "email", "name", ts_field]].rename(
            columns={ROW: "row", ts_field: "timestamp"}).reset_index(drop=True)
        rows = [{"row": int(r["row"]), "email": r["email"], "timestamp": r["timestamp"]}
                for r in good.to_dict("records")] if role == "completions" else []
        quarantined = [q for row in sorted(bad) for q in bad[row]]

        # 4. Dataset level again: the same person completing twice with different data is a
        # conflict we cannot settle, so the export is refused rather than guessed at.
        if role == "completions" and rows:
            distinct = pd.DataFrame(rows).drop_duplicates(subset=["email", "timestamp"])
            res = self._run("completions-conflicts", distinct.rename(columns={"row": ROW}),
                            [gxe.ExpectColumnValuesToBeUnique(column="email")])
            results["conflicts"] = res.to_json_dict()
            if not res.success:
                hits = res.results[0].result.get("unexpected_index_list") or []
                emails = sorted({h["email"] for h in hits})
                detail = "; ".join(
                    f"{e}: rows {', '.join(str(r['row']) for r in rows if r['email'] == e)}" for e in emails[:10])
                self._save(results, results_dir, role)
                raise DatasetError(f"{file}: {len(emails)} customer(s) have completion records that disagree "
                                   f"(column {mapped['completed_at']!r}): {detail}")
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
