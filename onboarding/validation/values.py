"""Reading the values of an export: email addresses, names and timestamps, as written by the
people and programs that fill exports in."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from onboarding.sources.table import serial_to_datetime

# Deliberately conservative: an address we cannot vouch for is quarantined, not guessed at.
EMAIL_REGEX = (r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
               r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def normalise_email(value: Any) -> str:
    """Emails match after trimming and lower-casing."""
    return str(value or "").strip().lower()


def clean_name(value: Any) -> str:
    """A display name on one line: control characters (CR, LF, tab...) become single spaces."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())


def _parse_one(text: str, fmt: str) -> dt.datetime:
    if fmt == "iso":
        return dt.datetime.fromisoformat(text)
    if fmt == "excel_serial":
        # A spreadsheet's date serial number (days since 1899-12-30; 46359.5 = 2026-12-03 12:00).
        number = float(text)
        if not 1 <= number < 2958466:  # 1900-01-01 .. 9999-12-31
            raise ValueError(f"{text} is out of range for a date serial number")
        return serial_to_datetime(number)
    return dt.datetime.strptime(text, fmt)


def parse_timestamp(value: str, tz: ZoneInfo, fmt: str | tuple[str, ...] | None = None) -> dt.datetime:
    """An export's timestamp as an aware UTC datetime.

    ISO 8601 (with 'Z', an offset, or none) unless ``fmt`` says otherwise: a strftime format,
    ``excel_serial`` (a spreadsheet's day number) or a tuple of these tried in order. ISO 8601 is
    always accepted too: it cannot be misread. A timestamp without an offset is local time in
    ``tz`` (the source's zone, else the cohort's).
    """
    text = value.strip()
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt or ())
    for f in formats + ("iso",):
        try:
            parsed = _parse_one(text, f)
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"{text!r} matches none of the formats {list(formats + ('iso',))}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.timezone.utc)


def describe_formats(fmt: str | tuple[str, ...] | None) -> str:
    if not fmt:
        return "ISO 8601"
    return " or ".join((fmt,) if isinstance(fmt, str) else fmt)
