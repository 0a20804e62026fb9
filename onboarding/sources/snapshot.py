"""Immutable input snapshots: every run copies what it read, byte for byte, into its folder, with a
JSON manifest (location, sha256, size, last-modified time), so a retry or a replay reads exactly
the same rows and the data team can see what each run decided on."""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from onboarding import storage


@dataclass(frozen=True)
class Snapshot:
    role: str
    source_type: str
    location: str  # where it was read from
    path: str  # the immutable copy inside the run folder (a local path or a URL)
    sha256: str
    size_bytes: int
    modified_at: str | None = None  # when the source last changed (ISO 8601, UTC), if it can tell
    # Erasures that rewrote the copy without a person's rows (when, how many rows, which erasure):
    # the sha256 above is then the rewritten copy's, and the note says why it differs from the source.
    rewritten: tuple[dict, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "rewritten", tuple(self.rewritten or ()))  # read back from JSON: a list

    def to_dict(self) -> dict:
        return asdict(self)

    def read_bytes(self) -> bytes:
        return storage.location(self.path).read_bytes()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def take(dest_dir: Any, role: str, suffix: str, source_type: str, location: str,
         fill: Callable[[Path], str | None]) -> Snapshot:
    """Copy a source into ``dest_dir/<role><suffix>`` once per run, with a JSON manifest beside it.

    ``fill(tmp)`` writes the copy to a local file and returns when the source last changed (ISO
    8601) if known. A retry of the same run finds the manifest and re-reads the copy it already
    took, never a newer export, so the run decides on the same inputs however often it is retried.
    """
    final = dest_dir / f"{role}{suffix}"
    manifest = dest_dir / f"{role}.json"
    if manifest.exists() and final.exists():
        return Snapshot(**json.loads(manifest.read_text()))
    with tempfile.TemporaryDirectory(prefix="onboarding-snapshot-") as tmpdir:
        tmp = Path(tmpdir) / f"{role}{suffix}"
        modified_at = fill(tmp)
        snap = Snapshot(role=role, source_type=source_type, location=location, path=storage.display(final),
                        sha256=sha256_file(tmp), size_bytes=tmp.stat().st_size, modified_at=modified_at)
        _put_frozen(final, tmp.read_bytes())
    _put_frozen(manifest, json.dumps(snap.to_dict(), indent=2).encode("utf-8"))
    return snap


def without_rows(snap: Snapshot, is_person: Callable[[str], bool], note: dict) -> tuple[Snapshot, int]:
    """Rewrite a snapshot without the rows any cell of which ``is_person`` (the header row stays),
    and its manifest with the new sha256, size and a note of the rewrite; (snapshot, rows removed).
    Nothing is written when no row matches."""
    path = storage.location(snap.path)
    data = path.read_bytes()
    new, removed = (_sheet_without if snap.path.endswith(".sheet.json") else csv_without_rows)(data, is_person)
    if not removed:
        return snap, 0
    out = Snapshot(**{**snap.to_dict(), "sha256": sha256_bytes(new), "size_bytes": len(new),
                      "rewritten": [*snap.rewritten, {**note, "rows_removed": removed}]})
    _put_frozen(path, new)
    _put_frozen(path.parent / f"{snap.role}.json", json.dumps(out.to_dict(), indent=2).encode("utf-8"))
    return out, removed


def csv_without_rows(data: bytes, is_person: Callable[[str], bool]) -> tuple[bytes, int]:
    """CSV bytes without the rows any cell of which ``is_person`` (the header row stays), in the
    file's own line endings; (bytes, rows removed)."""
    import csv
    import io

    text = data.decode("utf-8", "surrogateescape")
    newline = "\r\n" if "\r\n" in text[:65536] else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    kept = rows[:1] + [r for r in rows[1:] if not any(is_person(c) for c in r)]
    if len(kept) == len(rows):
        return data, 0
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows(kept)
    return out.getvalue().encode("utf-8", "surrogateescape"), len(rows) - len(kept)


def _sheet_without(data: bytes, is_person: Callable[[str], bool]) -> tuple[bytes, int]:
    doc = json.loads(data.decode("utf-8"))
    values = doc.get("values") or []
    kept = values[:1] + [r for r in values[1:] if not any(is_person(str(c)) for c in r)]
    if len(kept) == len(values):
        return data, 0
    doc["values"] = kept
    return json.dumps(doc).encode("utf-8"), len(values) - len(kept)


def _put_frozen(path: Any, data: bytes) -> None:
    if storage.is_local(path) and path.exists():
        path.chmod(0o644)  # an earlier try left a copy without its manifest: replace it whole
    storage.write_bytes(path, data)
    storage.freeze(path)
