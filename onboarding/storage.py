"""Run folders: where each run keeps its input snapshots, validation results, Data Docs, reports and
summaries. The base is a local path, or any URL Airflow's object storage knows (``s3://``,
``gs://``, ``file://``...), so that Celery workers on several machines share runs without NFS.

Everything that touches a run folder goes through the few calls here, which work the same on a
``pathlib.Path`` and on an ``ObjectStoragePath``.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

from onboarding import paths


def is_url(text: str | os.PathLike) -> bool:
    return "://" in str(text)


def object_path(url: str, conn_id: str | None = None):
    """An object-storage path (Airflow's ``ObjectStoragePath``; ``conn_id`` names the connection
    with the bucket's credentials, looked up by Airflow itself)."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url, conn_id=conn_id)


def location(base: str | os.PathLike) -> Any:
    """A run-storage location as a path object: ``Path`` for a local base, ``ObjectStoragePath``
    for a URL (with the runs connection, ``ONBOARDING_RUNS_CONN_ID``)."""
    if isinstance(base, Path):
        return base
    return object_path(str(base), paths.runs_connection()) if is_url(base) else Path(base)


def is_local(path: Any) -> bool:
    return isinstance(path, Path)


def write_bytes(path: Any, data: bytes) -> None:
    """Write a file whole: readers never see half of it (a rename on disk; one object put in a
    bucket, which stores objects whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_local(path):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        path.write_bytes(data)


def write_text(path: Any, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def text_writer(path: Any, encoding: str = "utf-8") -> Iterator[Any]:
    """A text file to write a large file in pieces; readers see it only when it is whole (a
    rename on disk; one object put in a bucket, written as it streams)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_local(path):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        with open(tmp, "w", newline="", encoding=encoding) as fh:
            yield fh
        os.replace(tmp, path)
    else:
        with path.open("wb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as fh:
            yield fh


def freeze(path: Any) -> None:
    """Make a local file read-only (an input snapshot must not change after the run read it);
    objects in a bucket are not rewritten by the pipeline either."""
    if is_local(path):
        os.chmod(path, 0o444)


def upload_tree(local_dir: Path, dest: Any) -> None:
    """Copy a local folder into run storage (for GX Data Docs, built on disk first)."""
    if is_local(dest):
        if local_dir.resolve() != dest.resolve():
            shutil.copytree(local_dir, dest, symlinks=True, dirs_exist_ok=True)
        return
    for f in sorted(local_dir.rglob("*")):
        if f.is_file():
            write_bytes(dest / f.relative_to(local_dir).as_posix(), f.read_bytes())


def remove_tree(path: Any) -> bool:
    """Delete a run folder and everything in it (a local folder, or every object under a bucket
    prefix); False when there was nothing there."""
    if is_local(path):
        if not path.exists():
            return False
        for f in path.rglob("*"):
            if f.is_file() and not f.is_symlink():
                os.chmod(f, 0o644)  # input snapshots are read-only
        shutil.rmtree(path)
        return True
    if not path.exists():
        return False
    path.rmdir(recursive=True)
    return True


def display(path: Any) -> str:
    """A path or URL as people read it in a log or an email."""
    return str(path)
