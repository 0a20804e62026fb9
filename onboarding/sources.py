"""Sources: where signups and completions come from.

A source does two things: ``snapshot`` copies what it reads, byte for byte, into the run's folder
(so a run can be audited and replayed: the same inputs give the same decisions), and ``read``
turns a snapshot into a table of strings, one row per record, with the record's row number as a
spreadsheet shows it (header is row 1). Three types: ``csv`` (a local path or an object-storage
URL), ``sql`` (a query through an Airflow connection) and ``google_sheet`` (gspread). Adding one
means adding a class here and a branch in ``make_source``; nothing downstream changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from onboarding.config import SOURCE_OPTIONS, SourceConfig

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ROW = "_row"  # column holding each record's row number in its file
OVERFLOW = "_overflow"  # True where a record has more fields than the header
PROBLEM = "_problem"  # a source-specific reason to quarantine the row (None when fine)
PROBLEM_COLUMN = "_problem_column"  # the column that reason concerns
INTERNAL_COLUMNS = (ROW, OVERFLOW, PROBLEM, PROBLEM_COLUMN)


class DatasetError(Exception):
    """The whole export is unusable (unreadable, empty, a column missing): the cohort sends nothing."""


@dataclass(frozen=True)
class Snapshot:
    role: str
    source_type: str
    location: str  # where it was read from
    path: str  # the immutable copy inside the run folder
    sha256: str
    size_bytes: int
    modified_at: str | None = None  # when the source last changed (ISO 8601, UTC), if it can tell

    def to_dict(self) -> dict:
        return asdict(self)


class Source(Protocol):
    config: SourceConfig

    def snapshot(self, dest_dir: Path) -> Snapshot: ...

    def read(self, snap: Snapshot) -> "pd.DataFrame": ...


class SourceUnavailable(Exception):
    """The source could not be reached right now (network, server, rate limit): a retry may work."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _freeze(tmp: Path, final: Path) -> None:
    """Make a snapshot read-only and move it in place atomically."""
    os.chmod(tmp, 0o444)
    os.replace(tmp, final)


def _take_snapshot(dest_dir: Path, role: str, suffix: str, source_type: str, location: str,
                   fill: Callable[[Path], str | None]) -> Snapshot:
    """Copy a source into ``dest_dir/<role><suffix>`` once per run, with a JSON manifest beside it.

    ``fill(tmp)`` writes the copy and returns when the source last changed (ISO 8601) if known.
    A retry of the same run finds the manifest and re-reads the copy it already took, never a
    newer export, so the run decides on the same inputs however often it is retried.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / f"{role}{suffix}"
    manifest = dest_dir / f"{role}.json"
    if final.exists() and manifest.exists():
        return Snapshot(**json.loads(manifest.read_text()))
    tmp = dest_dir / f".{role}{suffix}.part"
    if tmp.exists():
        tmp.unlink()
    modified_at = fill(tmp)
    snap = Snapshot(role=role, source_type=source_type, location=location, path=str(final), sha256=_sha256(tmp),
                    size_bytes=tmp.stat().st_size, modified_at=modified_at)
    _freeze(tmp, final)
    mtmp = dest_dir / f".{role}.json.part"
    if mtmp.exists():
        mtmp.unlink()
    mtmp.write_text(json.dumps(snap.to_dict(), indent=2))
    _freeze(mtmp, manifest)
    return snap


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names a column."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def records_to_frame(records: list[list[str]], where: str, role: str, header_row: int = 1,
                     problems: dict[int, tuple[str, str]] | None = None) -> "pd.DataFrame":
    """A table of strings from a header row and its records, numbered as a spreadsheet shows them.

    ``records[0]`` is the header, on row ``header_row``; the records follow it, one row each.
    Blank records (trailing empty rows, blank lines) are skipped but still counted. A blank header
    cell is named after its column letter, so it can be reported; ``problems`` maps a row number to
    a (column, reason) that quarantines the row (a source-specific problem such as a merged cell).
    """
    import pandas as pd

    if not records or not any(str(f).strip() for f in records[0]):
        raise DatasetError(f"{where}: the {role} export has no header row (row {header_row} is empty)")
    header = [str(h).strip() or f"(blank header, column {column_letter(i)})" for i, h in enumerate(records[0])]
    rows, numbers, overflow, problem_col, problem = [], [], [], [], []
    for number, rec in enumerate(records[1:], start=header_row + 1):
        if not any(str(f).strip() for f in rec):
            continue
        overflow.append(len(rec) > len(header) and any(str(f).strip() for f in rec[len(header):]))
        rows.append((list(rec) + [""] * len(header))[: len(header)])
        numbers.append(number)
        col, reason = (problems or {}).get(number, (None, None))
        problem_col.append(col)
        problem.append(reason)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.insert(0, ROW, numbers)
    df[OVERFLOW] = overflow
    df[PROBLEM_COLUMN] = problem_col
    df[PROBLEM] = problem
    return df


def _hint_delimiter(header_line: str, delimiter: str) -> str:
    """A hint when the header row looks split by another character (a European Excel export)."""
    for other, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if other != delimiter and header_line.count(other) >= 1 and header_line.count(delimiter) == 0:
            return f" The header row looks {name}-separated: set delimiter: {other!r} for this source."
    return ""


def _is_url(path: str) -> bool:
    return "://" in path


class CsvSource:
    """A CSV export: a local path, or any URL Airflow's object storage understands
    (``s3://``, ``gs://``, ``file://``... with ``connection`` naming the Airflow connection).

    Options: ``delimiter`` (default ','), ``encoding`` (default UTF-8; a BOM is always accepted;
    Excel on Windows writes ``cp1252``).
    """

    def __init__(self, config: SourceConfig):
        self.config = config
        if not config.options.get("path"):
            raise DatasetError(f"{config.role} source: a csv source needs 'path'")
        self.path = str(config.options["path"])

    def _fill_from_object_storage(self, tmp: Path) -> str | None:
        from airflow.sdk import ObjectStoragePath

        try:
            src = ObjectStoragePath(self.path, conn_id=self.config.options.get("connection"))
            if not src.is_file():
                raise DatasetError(f"{self.path}: {self.config.role} export not found")
            with src.open("rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
            info = src.stat()
        except DatasetError:
            raise
        except (FileNotFoundError, PermissionError, ValueError) as exc:
            raise DatasetError(f"{self.path}: cannot read the {self.config.role} export: {exc}") from None
        except OSError as exc:
            raise SourceUnavailable(f"{self.path}: object storage did not answer: {exc}") from exc
        return _mtime(info)

    def snapshot(self, dest_dir: Path) -> Snapshot:
        def fill(tmp: Path) -> str | None:
            if _is_url(self.path):
                return self._fill_from_object_storage(tmp)
            path = Path(self.path)
            if not path.is_file():
                raise DatasetError(f"{path}: {self.config.role} export not found")
            shutil.copyfile(path, tmp)
            return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat()

        return _take_snapshot(dest_dir, self.config.role, ".csv", "csv", self.path, fill)

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        return read_csv_snapshot(snap, self.config.options.get("delimiter", ","),
                                 self.config.options.get("encoding", "utf-8"))


def _mtime(info: Any) -> str | None:
    """When an object storage entry last changed, from whatever its filesystem reports."""
    if not isinstance(info, dict):
        return None
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, dt.timezone.utc).isoformat()
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).isoformat()
        except ValueError:
            continue
    return None


def read_csv_snapshot(snap: Snapshot, delimiter: str = ",", encoding: str = "utf-8") -> "pd.DataFrame":
    import csv

    where = f"{snap.location} (snapshot {snap.path})"
    if snap.size_bytes == 0:
        raise DatasetError(f"{where}: the {snap.role} export is empty (0 bytes)")
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    data = Path(snap.path).read_bytes()
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"{where}: not {'UTF-8' if enc == 'utf-8-sig' else encoding} text (line {line}, "
                           f"byte {exc.start + 1}: {exc.reason}). If the file was saved by Excel on Windows, "
                           f"set encoding: cp1252 for this source") from None
    except LookupError:
        raise DatasetError(f"{where}: unknown encoding {encoding!r}") from None
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise DatasetError(f"{where}: not a readable CSV file: {exc}") from None
    df = records_to_frame(records, where, snap.role)
    if records and len(records[0]) == 1:
        df.attrs["hint"] = _hint_delimiter(delimiter.join(records[0]), delimiter)
    return df


class SqlSource:
    """Rows from a database through an Airflow connection (``sqlite`` or ``postgres``).

    Options: ``connection`` (the Airflow connection id), ``query`` (a file in ``include/sql/``,
    e.g. ``sources/website_signups.sql``) and ``parameters`` (extra bind values). The query is run
    with ``:cohort_id`` bound to the cohort's id, never formatted into the text. Its result is
    written to the run folder as CSV (the snapshot), so the run reads the same rows on a retry.
    """

    def __init__(self, config: SourceConfig, cohort_id: str | None = None):
        self.config = config
        self.cohort_id = cohort_id
        for key in ("connection", "query"):
            if not config.options.get(key):
                raise DatasetError(f"{config.role} source: a sql source needs {key!r}")
        self.query_file = str(config.options["query"])

    @property
    def location(self) -> str:
        return self.config.location

    def snapshot(self, dest_dir: Path) -> Snapshot:
        import csv

        import sqlalchemy as sa

        from onboarding import connections, state

        try:
            text = state.query_text(self.query_file)
        except FileNotFoundError:
            raise DatasetError(f"{self.location}: query file not found under include/sql/") from None
        except ValueError as exc:
            raise DatasetError(f"{self.location}: {exc}") from None
        params = {"cohort_id": self.cohort_id, **(self.config.options.get("parameters") or {})}

        def fill(tmp: Path) -> str | None:
            conn_id = self.config.options["connection"]
            try:
                url = connections.sqlalchemy_url(connections.get(conn_id), f"the {self.config.role} source")
            except ValueError as exc:
                raise DatasetError(f"{self.location}: {exc}") from None
            except Exception as exc:  # the connection is not defined
                raise DatasetError(f"{self.location}: Airflow connection {conn_id!r} not found ({exc})") from None
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            try:
                conn = engine.connect()
            except sa.exc.DBAPIError as exc:
                engine.dispose()
                raise SourceUnavailable(f"{self.location}: the database did not answer: "
                                        f"{str(exc.orig).strip().splitlines()[0]}") from exc
            try:
                stmt = sa.text(text)
                wanted = set(stmt.compile().params)
                missing = wanted - set(params)
                if missing:
                    raise DatasetError(f"{self.location}: the query needs parameter(s) {sorted(missing)}; "
                                       f"set them under 'parameters' in the source's config")
                result = conn.execute(stmt, {k: v for k, v in params.items() if k in wanted})
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    out = csv.writer(fh)
                    out.writerow(list(result.keys()))
                    for row in result:
                        out.writerow([_sql_value(v) for v in row])
            except sa.exc.DBAPIError as exc:
                first = str(exc.orig).strip().splitlines()[0]
                if exc.connection_invalidated:  # the connection dropped mid-query: worth a retry
                    raise SourceUnavailable(f"{self.location}: the database connection was lost: {first}") from exc
                raise DatasetError(f"{self.location}: the query failed: {first}") from None
            finally:
                conn.close()
                engine.dispose()
            # A database is read live: its rows are as fresh as the moment they were read.
            return state.utcnow().isoformat()

        return _take_snapshot(dest_dir, self.config.role, ".csv", "sql", self.location, fill)

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        return read_csv_snapshot(snap)


def _sql_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


# Spreadsheets count days from 1899-12-30 (Lotus 1-2-3's leap-year bug included).
SERIAL_EPOCH = dt.datetime(1899, 12, 30)


def serial_to_datetime(value: float) -> dt.datetime:
    """A spreadsheet date-time serial number (days since 1899-12-30) as a naive local datetime."""
    return SERIAL_EPOCH + dt.timedelta(seconds=round(float(value) * 86400))


class GoogleSheetSource:
    """A worksheet of a Google Sheet (a form's responses, a roster), read with gspread.

    Options: ``spreadsheet`` (id or URL), ``worksheet`` (title; default the first), ``header_row``
    (default 1, for sheets with a title above the header) and ``connection`` (the Airflow
    connection with the Google credentials; default ``onboarding_google``). Cells are read
    unformatted, so a date the sheet shows in any format arrives as its serial number and is
    turned into an exact date-time (local to the source's zone); a cell covered by a merged range
    (only its top-left cell holds the value) quarantines its row with the range named.
    """

    DEFAULT_CONNECTION = "onboarding_google"

    def __init__(self, config: SourceConfig, extra: dict | None = None):
        self.config = config
        if not config.options.get("spreadsheet"):
            raise DatasetError(f"{config.role} source: a google_sheet source needs 'spreadsheet' (id or URL)")
        self._extra = extra
        header_row = config.options.get("header_row", 1)
        if not isinstance(header_row, int) or header_row < 1:
            raise DatasetError(f"{config.role} source: header_row must be a row number (1 or more)")
        self.header_row = header_row

    @property
    def location(self) -> str:
        return self.config.location

    def _client(self):
        from onboarding import connections
        from onboarding.google_clients import sheets_client

        extra = self._extra
        if extra is None:
            conn_id = self.config.options.get("connection", self.DEFAULT_CONNECTION)
            try:
                extra = connections.extra(conn_id)
            except Exception as exc:
                raise DatasetError(f"{self.location}: Airflow connection {conn_id!r} not found ({exc})") from None
        try:
            return sheets_client(extra)
        except ValueError as exc:
            raise DatasetError(f"{self.location}: {exc}") from None

    def snapshot(self, dest_dir: Path) -> Snapshot:
        def fill(tmp: Path) -> str | None:
            import requests
            from gspread.exceptions import APIError, SpreadsheetNotFound, WorksheetNotFound
            from gspread.utils import DateTimeOption, ValueRenderOption

            from onboarding.google_clients import spreadsheet_key

            try:
                key = spreadsheet_key(str(self.config.options["spreadsheet"]))
            except ValueError as exc:
                raise DatasetError(f"{self.location}: {exc}") from None
            try:
                book = self._client().open_by_key(key)
                title = self.config.options.get("worksheet")
                try:
                    ws = book.worksheet(title) if title else book.get_worksheet(0)
                except WorksheetNotFound:
                    names = [w.title for w in book.worksheets()]
                    raise DatasetError(f"{self.location}: no worksheet named {title!r}; the spreadsheet has "
                                       f"{names}") from None
                values = ws.get(value_render_option=ValueRenderOption.unformatted,
                                date_time_render_option=DateTimeOption.serial_number)
                meta = book.fetch_sheet_metadata({"includeGridData": "false",
                                                  "fields": "sheets(properties(sheetId,title),merges)"})
                merges = next((s.get("merges", []) for s in meta["sheets"]
                               if s["properties"]["sheetId"] == ws.id), [])
                try:
                    modified = book.get_lastUpdateTime()
                except APIError as exc:
                    # The Drive scope is optional; without it the freshness guard cannot judge this sheet.
                    log.warning("%s: last-modified time not readable (%s); the stale_source guard skips it",
                                self.location, exc.response.status_code)
                    modified = None
            except APIError as exc:
                code = exc.response.status_code
                if code == 404:
                    raise DatasetError(f"{self.location}: spreadsheet not found (check the id or URL)") from None
                if code in (401, 403):
                    raise DatasetError(f"{self.location}: access refused ({code}): share the spreadsheet with "
                                       f"the connection's account, or grant it the Sheets scopes") from None
                raise SourceUnavailable(f"{self.location}: Google Sheets answered {code}: {exc}") from exc
            except SpreadsheetNotFound:
                raise DatasetError(f"{self.location}: spreadsheet not found (check the id or URL)") from None
            except PermissionError:
                raise DatasetError(f"{self.location}: access refused (403): share the spreadsheet with the "
                                   f"connection's account") from None
            except requests.RequestException as exc:
                raise SourceUnavailable(f"{self.location}: Google Sheets did not answer: {exc}") from exc
            doc = {"spreadsheet_id": key, "worksheet": ws.title, "sheet_id": ws.id,
                   "value_render_option": "UNFORMATTED_VALUE", "date_time_render_option": "SERIAL_NUMBER",
                   "values": values, "merges": merges}
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=0), encoding="utf-8")
            if modified:
                return dt.datetime.fromisoformat(modified.replace("Z", "+00:00")).astimezone(dt.timezone.utc).isoformat()
            return None

        return _take_snapshot(dest_dir, self.config.role, ".sheet.json", "google_sheet", self.location, fill)

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        doc = json.loads(Path(snap.path).read_text(encoding="utf-8"))
        where = f"{snap.location} (snapshot {snap.path})"
        values: list[list[Any]] = doc.get("values") or []
        start = self.header_row - 1
        if len(values) <= start:
            raise DatasetError(f"{where}: the worksheet has no header row (row {self.header_row} is empty)")
        header = [str(h).strip() for h in values[start]]
        stamp_headers = {self.config.columns[f] for f in ("signed_up_at", "completed_at") if f in self.config.columns}
        stamp_cols = {i for i, h in enumerate(header) if h in stamp_headers}
        records = [[_cell(v, i in stamp_cols) for i, v in enumerate(row)] for row in values[start:]]
        # Merged cells: the value sits in the range's top-left cell only; the other rows it spans
        # would read as empty. Name the range instead of letting the row read as "missing".
        mapped = {h for h in self.config.columns.values()}
        problems: dict[int, tuple[str, str]] = {}
        for m in doc.get("merges") or []:
            r0, r1 = m.get("startRowIndex", 0), m.get("endRowIndex", 0)
            c0, c1 = m.get("startColumnIndex", 0), m.get("endColumnIndex", 0)
            a1 = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1 - 1)}{r1}"
            cols = [header[c] for c in range(c0, min(c1, len(header))) if header[c] in mapped]
            if not cols:
                continue
            for r in range(max(r0, start + 1), r1):
                row_number = r + 1
                if (r, c0) == (r0, c0) and r == r0:
                    continue  # the top-left cell holds the value
                problems.setdefault(row_number, (cols[0], f"cell is inside merged cells {a1}; only the first "
                                                            f"row of a merged range holds a value (unmerge and "
                                                            f"fill each row)"))
        return records_to_frame(records, where, snap.role, header_row=self.header_row, problems=problems)


def _cell(value: Any, is_timestamp: bool) -> str:
    """One unformatted cell as text: a number in a timestamp column is a date serial number."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if is_timestamp:
            return serial_to_datetime(value).isoformat()
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return "" if value is None else str(value)


def make_source(config: SourceConfig, cohort_id: str | None = None) -> Source:
    """The source a cohort's config describes (``type``: csv, sql or google_sheet)."""
    if config.type == "csv":
        return CsvSource(config)
    if config.type == "sql":
        return SqlSource(config, cohort_id)
    if config.type == "google_sheet":
        return GoogleSheetSource(config)
    raise DatasetError(f"{config.role} source: unknown type {config.type!r}; available: {list(SOURCE_OPTIONS)}")
