"""A CSV export: a local path, or any URL Airflow's object storage understands (``s3://``,
``gs://``, ``file://``... with ``connection`` naming the Airflow connection)."""
from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onboarding import storage
from onboarding.configmodel import Text
from onboarding.errors import DatasetError, SourceUnavailable
from onboarding.sources import snapshot
from onboarding.sources.config import SourceConfig, SourceSpec
from onboarding.sources.snapshot import Snapshot
from onboarding.sources.table import OVERFLOW, PROBLEM, PROBLEM_COLUMN, ROW, records_to_frame

if TYPE_CHECKING:
    import pandas as pd


def _hint_delimiter(header_line: str, delimiter: str) -> str:
    """A hint when the header row looks split by another character (a European Excel export)."""
    for other, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if other != delimiter and header_line.count(other) >= 1 and header_line.count(delimiter) == 0:
            return f" The header row looks {name}-separated: set delimiter: {other!r} for this source."
    return ""


class CsvSpec(SourceSpec):
    """A csv source in the cohort file: ``path`` (relative to the cohort file's folder, ``$VARS``
    expanded, or an object-storage URL), ``delimiter`` (default ','), ``encoding`` (default
    UTF-8), ``connection`` (the Airflow connection of an object-storage URL)."""

    type: Literal["csv"] = "csv"
    path: Text
    """Relative to the cohort file's folder, $VARS expanded; or an object-storage URL."""
    delimiter: Text | None = None
    """Default ','."""
    encoding: Text | None = None
    """Default utf-8 (Excel on Windows writes cp1252)."""
    connection: Text | None = None
    """Airflow connection of an object-storage URL."""


class CsvSource:
    """Options: ``delimiter`` (default ','), ``encoding`` (default UTF-8; a BOM is always accepted;
    Excel on Windows writes ``cp1252``), ``connection`` (for an object-storage URL)."""

    def __init__(self, config: SourceConfig):
        self.config = config
        if not config.options.get("path"):
            raise DatasetError(f"{config.role} source: a csv source needs 'path'")
        self.path = str(config.options["path"])

    def _fill_from_object_storage(self, tmp: Path) -> str | None:
        try:
            src = storage.object_path(self.path, self.config.options.get("connection"))
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

    def snapshot(self, dest_dir: Any) -> Snapshot:
        def fill(tmp: Path) -> str | None:
            if storage.is_url(self.path):
                return self._fill_from_object_storage(tmp)
            path = Path(self.path)
            if not path.is_file():
                raise DatasetError(f"{path}: {self.config.role} export not found")
            shutil.copyfile(path, tmp)
            return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat()

        return snapshot.take(dest_dir, self.config.role, ".csv", "csv", self.path, fill)

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
    data = snap.read_bytes()
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(f"{where}: not {'UTF-8' if enc == 'utf-8-sig' else encoding} text (line {line}, "
                           f"byte {exc.start + 1}: {exc.reason}). If the file was saved by Excel on Windows, "
                           f"set encoding: cp1252 for this source") from None
    except LookupError:
        raise DatasetError(f"{where}: unknown encoding {encoding!r}") from None
    del data
    # No limit on a field's size here (the csv module's is 128 kB): a huge cell quarantines its row
    # in validation, it does not fail the whole export.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True), [])
        df = _read_fast(text, header, delimiter, where, snap.role)
        if df is None:  # a ragged or oddly quoted file: the careful reader says what is wrong
            df = records_to_frame(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)),
                                  where, snap.role)
    except csv.Error as exc:
        raise DatasetError(f"{where}: not a readable CSV file: {exc}") from None
    if len(header) == 1:
        df.attrs["hint"] = _hint_delimiter(delimiter.join(header), delimiter)
    return df


def _read_fast(text: str, header: list[str], delimiter: str, where: str, role: str) -> "pd.DataFrame | None":
    """The export read by pandas' C parser: a table of strings numbered as a spreadsheet shows
    them, as ``records_to_frame`` makes it, a hundred times faster. ``None`` when a record has more
    fields than the header (or pandas cannot parse it): the careful reader then takes over."""
    import numpy as np
    import pandas as pd

    if not any(h.strip() for h in header):
        return records_to_frame([header], where, role)  # says: no header row
    df = _read_arrow(text, delimiter, len(header))
    if df is None:
        try:
            df = pd.read_csv(io.StringIO(text), sep=delimiter, header=0, dtype=object, keep_default_na=False,
                             na_filter=False, skip_blank_lines=False, engine="c")
        except (pd.errors.ParserError, ValueError):
            return None
    if len(df.columns) != len(header):
        return None
    df = df.fillna("")
    numbers = np.arange(2, len(df) + 2)
    # Blank records (all fields empty) are skipped but counted; few rows are, so each further
    # column is looked at only where all before it were empty.
    blank = np.flatnonzero(np.array([not str(v).strip() for v in df.iloc[:, 0].to_numpy()], dtype=bool))
    for col in df.columns[1:]:
        values = df[col].to_numpy()
        blank = blank[np.array([not str(values[i]).strip() for i in blank], dtype=bool)]
    keep = np.ones(len(df), dtype=bool)
    keep[blank] = False
    names = records_to_frame([header], where, role).columns[1:len(header) + 1]
    df.columns = list(names)
    if blank.size:
        df = df[keep].reset_index(drop=True)
    df.insert(0, ROW, numbers[keep])
    df[OVERFLOW] = False
    df[PROBLEM_COLUMN] = None
    df[PROBLEM] = None
    return df


def _read_arrow(text: str, delimiter: str, width: int) -> "pd.DataFrame | None":
    """The export read by Arrow's multithreaded CSV reader, every cell the text as written (no
    null, no type guessed, quoted line breaks kept). ``None`` when Arrow is not installed or the
    file is not a plain rectangle of records (a short, long or blank record): pandas' C parser,
    then the careful reader, take over and say the same as they always have."""
    try:
        import pyarrow as pa
        from pyarrow import csv as pacsv
    except ImportError:
        return None
    data = text.encode("utf-8")
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException, ValueError):
        return None
    if table.num_rows < 2 or table.num_columns != width:
        return None
    # The header is read as a record (a quoted header may span lines), then left out.
    return table.slice(1).to_pandas(types_mapper=lambda _t: None).astype(object)
