"""Sources: where signups and completions come from.

A source does two things: ``snapshot`` copies what it reads, byte for byte, into the run's folder
(so a run can be audited and replayed: the same inputs give the same decisions), and ``read``
turns a snapshot into a table of strings, one row per record, with the record's row number as a
spreadsheet shows it (header is row 1). Adding a source type (Google Sheets, SQL) means adding a
class here and registering it in ``SOURCE_TYPES``; nothing downstream changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from onboarding.config import SourceConfig

if TYPE_CHECKING:
    import pandas as pd

ROW = "_row"  # column holding each record's row number in its file
OVERFLOW = "_overflow"  # True where a record has more fields than the header


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


class CsvSource:
    """A CSV export on a local path (UTF-8, a BOM is accepted; delimiter ',' unless configured)."""

    def __init__(self, config: SourceConfig):
        self.config = config
        if not config.options.get("path"):
            raise DatasetError(f"{config.role} source: a csv source needs 'path'")
        self.path = Path(config.options["path"])

    def snapshot(self, dest_dir: Path) -> Snapshot:
        dest_dir.mkdir(parents=True, exist_ok=True)
        final = dest_dir / f"{self.config.role}.csv"
        manifest = dest_dir / f"{self.config.role}.json"
        if final.exists() and manifest.exists():
            # A retry of the same run re-reads the copy it already took, never a newer export.
            return Snapshot(**json.loads(manifest.read_text()))
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: {self.config.role} export not found")
        tmp = dest_dir / f".{self.config.role}.csv.part"
        if tmp.exists():
            tmp.unlink()
        shutil.copyfile(self.path, tmp)
        snap = Snapshot(role=self.config.role, source_type="csv", location=str(self.path), path=str(final),
                        sha256=_sha256(tmp), size_bytes=tmp.stat().st_size,
                        modified_at=dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.timezone.utc).isoformat())
        _freeze(tmp, final)
        mtmp = dest_dir / f".{self.config.role}.json.part"
        if mtmp.exists():
            mtmp.unlink()
        mtmp.write_text(json.dumps(snap.to_dict(), indent=2))
        _freeze(mtmp, manifest)
        return snap

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        import csv

        import pandas as pd

        where = f"{snap.location} (snapshot {snap.path})"
        if snap.size_bytes == 0:
            raise DatasetError(f"{where}: the {snap.role} export is empty (0 bytes)")
        delimiter = self.config.options.get("delimiter", ",")
        try:
            with open(snap.path, newline="", encoding="utf-8-sig") as fh:
                records = list(csv.reader(fh, delimiter=delimiter, strict=True))
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{where}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
        except csv.Error as exc:
            raise DatasetError(f"{where}: not a readable CSV file: {exc}") from None
        if not records or not any(f.strip() for f in records[0]):
            raise DatasetError(f"{where}: the {snap.role} export has no header row")
        header = [h.strip() for h in records[0]]
        rows, numbers, overflow = [], [], []
        # Spreadsheet numbering: the header is row 1, the first record row 2; blank lines count.
        for number, rec in enumerate(records[1:], start=2):
            if not any(f.strip() for f in rec):
                continue
            overflow.append(len(rec) > len(header))
            rows.append((rec + [""] * len(header))[: len(header)])
            numbers.append(number)
        df = pd.DataFrame(rows, columns=header, dtype=object)
        df.insert(0, ROW, numbers)
        df[OVERFLOW] = overflow
        return df


SOURCE_TYPES: dict[str, type] = {"csv": CsvSource}


def make_source(config: SourceConfig) -> Source:
    try:
        cls = SOURCE_TYPES[config.type]
    except KeyError:
        raise DatasetError(f"{config.role} source: unknown type {config.type!r}; "
                           f"available: {sorted(SOURCE_TYPES)}") from None
    return cls(config)
