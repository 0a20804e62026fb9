"""Reading the values of an export: email addresses, names and timestamps, as written by the
people and programs that fill exports in, and by people who try to abuse them.

Each reader works on a whole column at once and returns, beside the values, a reason per row
when a value cannot be used (``None`` when it can). Hostile input is normal input here:

- an **email** is kept only in the plain form every mail program reads the same way (RFC 5322
  dot-atom local part, letters-digits-hyphens domain, at most 254 characters); an RFC 2047 encoded
  word (``=?utf-8?q?...?=``) is refused, since mail software decodes it into another address;
- a **name** is put on one line (control characters, line separators and bidirectional overrides
  become spaces); one holding an encoded word, or longer than 200 characters, is refused;
- a **timestamp** must parse in one of the source's formats, exist in its zone (not inside a
  daylight-saving gap, not ambiguous at a fall-back), and be plausible: not before 2000, not
  more than a year after the run's moment.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from onboarding.addresses import EMAIL_REGEX, MAX_EMAIL_CHARS, normalised
from onboarding.sources.table import SERIAL_EPOCH

_EMAIL = re.compile(EMAIL_REGEX)
MAX_NAME_CHARS = 200
MAX_TIMESTAMP_CHARS = 100
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
FURTHEST_AHEAD = dt.timedelta(days=366)
# Characters that change how a line reads without being seen: C0/C1 controls, line and paragraph
# separators, bidirectional overrides and isolates, zero-width space, word joiner, byte order mark.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]+")
# A UTC offset after a time of day (a date alone, 2026-11-01, has none).
_OFFSET = re.compile(r"(?:\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2,6}(?:[.,]\d+)?)\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$")


def normalise_email(value: Any) -> str:
    """Emails match after trimming and lower-casing (``addresses.normalised``)."""
    return normalised(value)


def _texts(values: pd.Series) -> pd.Series:
    """A column's cells as Python strings (missing: ''), held as objects: pandas' string methods
    then run over them in one call each (the column-at-a-time readers below)."""
    return values.astype(object).where(values.notna(), "").astype(str).astype(object)


def normalise_emails(values: pd.Series) -> pd.Series:
    """``normalise_email`` of a whole column, in one pass."""
    texts = _texts(values)
    return pd.Series([normalised(t) for t in texts.tolist()], index=texts.index, dtype=object)


def email_problems(emails: pd.Series) -> pd.Series:
    """Why each (normalised) email cannot be used, or None: missing, an encoded word, too long,
    or not a plain address."""
    emails = _texts(emails)
    plain = _EMAIL.fullmatch
    encoded = "email address contains an encoded word (=?...?=), which mail programs decode into another address"
    long = f"email address longer than {MAX_EMAIL_CHARS} characters"
    # One pass per address; the first reason that holds wins: an encoded word, missing, too long
    # (or a local part over 64), not a plain address.
    reasons = [encoded if "=?" in e else "missing email" if not e else
               long if len(e) > MAX_EMAIL_CHARS or e.find("@") > 64 else
               None if plain(e) else "invalid email address" for e in emails.tolist()]
    return pd.Series(reasons, index=emails.index, dtype=object)


def clean_name(value: Any) -> str:
    """A display name on one line: invisible and control characters become single spaces."""
    return " ".join(_INVISIBLE.sub(" ", str(value or "")).split())


def clean_names(values: pd.Series) -> pd.Series:
    """``clean_name`` of a whole column."""
    texts = _texts(values)
    # Most names are already clean: printable (so no control, invisible or separator character,
    # and no whitespace but the plain space), no double space, none at either end. The rest go
    # through the replacements.
    kept = np.fromiter((t.isprintable() and "  " not in t and t[:1] != " " and t[-1:] != " " for t in texts.tolist()),
                       dtype=bool, count=len(texts))
    if kept.all():
        return texts
    out = texts.copy()
    rest = texts[~kept]
    out[~kept] = rest.str.replace(_INVISIBLE, " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    return out


def name_problems(raw: pd.Series, cleaned: pd.Series, required: bool) -> pd.Series:
    """Why each name cannot be used, or None: missing (when required), an encoded word, too long."""
    cleaned = _texts(cleaned)
    reasons = np.full(len(cleaned), None, dtype=object)
    if required:
        reasons[(cleaned == "").to_numpy()] = "missing name"
    reasons[(cleaned.str.len() > MAX_NAME_CHARS).to_numpy()] = f"name longer than {MAX_NAME_CHARS} characters"
    reasons[_texts(raw).str.contains("=?", regex=False).to_numpy(dtype=bool)] = (
        "name contains an encoded word (=?...?=) that mail programs would decode into other text; "
        "export names as plain text")
    return pd.Series(reasons, index=raw.index, dtype=object)


_EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
MAX_LINK_CHARS = 2000


def event_names(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """An events export's event names (trimmed, lower-cased) and why each cannot be used, or None:
    missing, or not a plain name (letters, digits, '_', '.', ':', '-'; at most 100): a journey
    matches its stages' evidence by these names, so anything else cannot be one."""
    names = _texts(raw).str.strip().str.lower()
    reasons = np.full(len(names), None, dtype=object)
    present = (names != "").to_numpy()
    reasons[present & ~names.str.fullmatch(_EVENT_NAME).to_numpy(dtype=bool)] = (
        "not an event name (letters, digits, '_', '.', ':' and '-', at most 100)")
    reasons[~present] = "missing event name"
    return names, pd.Series(reasons, index=raw.index, dtype=object)


def event_values(raw: pd.Series | None, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """An event's value (a quiz score) as a number, None when empty, and why a cell cannot be
    one: not a finite number (text, 'NaN', 'inf', a formula)."""
    if raw is None:
        return pd.Series(None, index=index, dtype=object), pd.Series(None, index=index, dtype=object)
    texts = _texts(raw).str.strip()
    numbers = pd.to_numeric(texts.where(texts != "", None), errors="coerce")
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    reasons = np.full(len(texts), None, dtype=object)
    reasons[(texts != "").to_numpy() & ~finite] = "value is not a number"
    values = pd.Series([float(v) if ok else None for v, ok in zip(numbers.tolist(), finite.tolist())],
                       index=index, dtype=object)
    return values, pd.Series(reasons, index=index, dtype=object)


def event_links(raw: pd.Series | None, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """A link to the evidence (the submitted form, the quiz attempt), shown to the approver: an
    https address on one line, or nothing."""
    if raw is None:
        return pd.Series(None, index=index, dtype=object), pd.Series(None, index=index, dtype=object)
    texts = _texts(raw).str.strip()
    reasons = np.full(len(texts), None, dtype=object)
    present = (texts != "").to_numpy()
    ok = texts.str.fullmatch(r"https://[^\s<>\"'`|]{1,%d}" % MAX_LINK_CHARS).to_numpy(dtype=bool)
    reasons[present & ~ok] = "link is not one https:// address"
    return texts.where(texts != "", None), pd.Series(reasons, index=index, dtype=object)


MAX_ATTRIBUTE_CHARS = 100
MAX_CAPACITY = 100_000


def attribute_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """An attribute (a language, a time zone) as matched: trimmed and lower-cased, None when empty,
    and why a cell cannot be one: not one line of plain text, or longer than 100 characters."""
    texts = _texts(raw).str.strip()
    reasons = np.full(len(texts), None, dtype=object)
    reasons[texts.str.contains(_INVISIBLE).to_numpy(dtype=bool)] = "attribute holds control or invisible characters"
    reasons[(texts.str.len() > MAX_ATTRIBUTE_CHARS).to_numpy()] = (
        f"attribute longer than {MAX_ATTRIBUTE_CHARS} characters")
    lowered = texts.str.lower()
    return lowered.where(lowered != "", None), pd.Series(reasons, index=raw.index, dtype=object)


def capacities(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A CSM's capacity (customers at once) as a whole number, and why a cell cannot be one:
    missing, or not a whole number from 1 to 100,000 ('20 ', '20.0' read as 20)."""
    texts = _texts(raw).str.strip()
    numbers = pd.to_numeric(texts.where(texts != "", None), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(numbers) & (numbers == np.floor(np.nan_to_num(numbers))) & (numbers >= 1) & (numbers <= MAX_CAPACITY)
    reasons = np.full(len(texts), None, dtype=object)
    reasons[~ok] = f"capacity is not a whole number of customers from 1 to {MAX_CAPACITY:,}"
    reasons[(texts == "").to_numpy()] = "missing capacity"
    values = pd.Series([int(v) if good else None for v, good in zip(numbers.tolist(), ok.tolist())],
                       index=raw.index, dtype=object)
    return values, pd.Series(reasons, index=raw.index, dtype=object)


def describe_formats(fmt: str | tuple[str, ...] | None) -> str:
    if not fmt:
        return "ISO 8601"
    return " or ".join((fmt,) if isinstance(fmt, str) else fmt)


def parse_timestamps(texts: pd.Series, tz: str, fmt: str | tuple[str, ...] | None = None,
                     as_of: dt.datetime | None = None) -> tuple[pd.Series, pd.Series]:
    """An export's timestamps as UTC instants, and why each could not be read (None when it was;
    an empty cell is neither: its time is missing, ``NaT`` with no reason).

    ISO 8601 (with 'Z', an offset, or none) unless ``fmt`` says otherwise: a strftime format,
    ``excel_serial`` (a spreadsheet's day number) or a tuple of these tried in order. ISO 8601 is
    always accepted too: it cannot be misread. A timestamp without an offset is local time in
    ``tz`` (the source's zone, else the cohort's).
    """
    texts = _texts(texts).str.strip()
    formats = ((fmt,) if isinstance(fmt, str) else tuple(fmt or ())) + ("iso",)
    utc = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[us, UTC]")
    local = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[us]")
    reasons = np.full(len(texts), None, dtype=object)
    present = (texts != "").to_numpy()
    too_long = (texts.str.len() > MAX_TIMESTAMP_CHARS).to_numpy()
    todo = present & ~too_long
    for f in formats:
        if not todo.any():
            break
        sub = texts[todo]
        if f == "excel_serial":
            number = pd.to_numeric(sub, errors="coerce")
            ok = (number >= 1) & (number < 2958466)  # 1900-01-01 .. 9999-12-31
            seconds = (number[ok] * 86400).round()
            local[ok[ok].index] = (pd.Timestamp(SERIAL_EPOCH) + pd.to_timedelta(seconds, unit="s")).astype(
                "datetime64[us]")
        elif f == "iso":
            aware = sub.str.contains(_OFFSET).to_numpy(dtype=bool)
            a = _to_datetime(sub[aware], "ISO8601", utc=True)
            utc[a.dropna().index] = a.dropna()
            b = _to_datetime(sub[~aware], "ISO8601", utc=False)
            local[b.dropna().index] = b.dropna()
        else:
            parsed = _to_datetime(sub, f, utc="%z" in f)
            target = utc if "%z" in f else local
            target[parsed.dropna().index] = parsed.dropna()
        todo = todo & (utc.isna() & local.isna()).to_numpy()
    unreadable = present & (utc.isna() & local.isna()).to_numpy()
    reasons[unreadable] = f"unparseable timestamp (expected {describe_formats(fmt)})"
    reasons[too_long & present] = f"unparseable timestamp (longer than {MAX_TIMESTAMP_CHARS} characters)"
    has_local = local.notna().to_numpy()
    if has_local.any():
        placed = local[has_local].dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        utc[placed.index] = placed.dt.tz_convert("UTC")
        where = np.flatnonzero(has_local)
        for pos in where[placed.isna().to_numpy()]:  # rare: a local time inside a clock change
            reasons[pos] = _clock_change(local.iloc[pos].to_pydatetime(), ZoneInfo(tz))
    early = (utc < EARLIEST).fillna(False).to_numpy()
    reasons[early] = "implausible timestamp (before 2000)"
    if as_of is not None:
        late = (utc > as_of + FURTHEST_AHEAD).fillna(False).to_numpy()
        reasons[late] = "implausible timestamp (more than a year after this run's moment)"
    refused = np.array([r is not None for r in reasons], dtype=bool)
    utc[refused] = pd.NaT
    return utc, pd.Series(reasons, index=texts.index, dtype=object)


def _to_datetime(values: pd.Series, fmt: str, utc: bool) -> pd.Series:
    """Parse with one format; what does not match is NaT (pandas' own parser, in C)."""
    if values.empty:
        return pd.Series([], index=values.index, dtype="datetime64[us, UTC]" if utc else "datetime64[us]")
    out = pd.to_datetime(values, format=fmt, errors="coerce", utc=utc)
    if out.dtype == object:  # mixed zones without utc: treat as unreadable rather than guess
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    return out.astype("datetime64[us, UTC]" if utc else "datetime64[us]")


def _clock_change(naive: dt.datetime, tz: ZoneInfo) -> str:
    """Why a local time cannot be placed: inside the gap when clocks go forward, or twice over when
    they go back."""
    early, late = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    when = f"{naive:%Y-%m-%d %H:%M}"
    if early.utcoffset() != late.utcoffset():
        back = early.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None) == naive
        if back:
            return (f"ambiguous local time ({when} happens twice in {tz.key}: the clocks went back); "
                    f"export it with its UTC offset")
    return (f"local time that does not exist ({when} in {tz.key}: the clocks went forward); "
            f"export it with its UTC offset")


def parse_timestamp(value: str, tz: ZoneInfo | str, fmt: str | tuple[str, ...] | None = None,
                    as_of: dt.datetime | None = None) -> dt.datetime:
    """One timestamp as an aware UTC datetime (see ``parse_timestamps``); ``ValueError`` with the
    reason when it cannot be used."""
    utc, reasons = parse_timestamps(pd.Series([value], dtype=object), getattr(tz, "key", str(tz)), fmt, as_of)
    if reasons.iloc[0] is not None:
        raise ValueError(reasons.iloc[0])
    if pd.isna(utc.iloc[0]):
        raise ValueError("missing timestamp")
    return utc.iloc[0].to_pydatetime()


def as_python(times: pd.Series) -> np.ndarray:
    """UTC instants as Python datetimes (``None`` where missing)."""
    return np.array([None if pd.isna(t) else t.to_pydatetime() for t in times], dtype=object)


CONSENT_YES = frozenset({"yes", "y", "true", "1", "x", "✓", "✔", "opt-in", "opted in", "agree", "agreed", "on"})


def parse_consent(values: "pd.Series") -> "pd.Series":
    """A signup export's consent column as 1 (a clear yes: yes, true, 1, x, a tick, opt-in...) or
    0 (anything else, blank included): marketing needs a yes, never a guess."""
    import pandas as pd

    text = pd.Series(values, dtype=object).fillna("").astype(str).str.strip().str.lower()
    return text.isin(CONSENT_YES).astype("int64")
