"""Times as the project keeps them: aware datetimes in code, one text form in the state database."""
from __future__ import annotations

import datetime as dt


def iso(value: dt.datetime | None) -> str | None:
    """The one text form of a time in the state database: UTC, microseconds, 'Z'."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} has no time zone")
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def utcnow() -> dt.datetime:
    """Wall-clock time, for audit columns and leases only: decisions never read it."""
    return dt.datetime.now(dt.timezone.utc)
