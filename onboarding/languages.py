"""Customers' languages and the words of dates in them.

A customer's ``language`` attribute (the signup export's column the cohort maps as ``language``)
chooses the variant of each email they get (``<email>/<lang>/``, see ``delivery.messages``). The
value is normalised to a plain lower-case language tag (``de``, ``DE``, ``de-DE``, `` de `` ->
``de``); anything else (``../x``, ``de/../../etc``, HTML, control characters) is no language at
all, so the customer gets the default emails: a value never becomes part of a path.

Dates in an email are written in the language of the variant actually used (a ``fr`` customer
whose emails fall back to English reads English dates), from the small table below: no
dependency for a few dozen words. A cohort's ``locale`` (``de-DE``) writes the instructor's
summary and the Onboarding page's dates the same way.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DEFAULT = "en"
# A language tag as people write it: a 2-3 letter language, then optional subtags (region,
# script) joined by '-' or '_'. Nothing else is read as a language.
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8}){0,3}")
MAX_TAG_CHARS = 35


def normalise_language(value: Any) -> str | None:
    """The plain language of ``value`` (``de`` for ``DE``, ``de-DE``, `` de ``), or None when it
    is not a language tag (empty, a path, markup, control characters, too long)."""
    if not isinstance(value, str):
        return None
    text = value.strip(" \t")
    if not text or len(text) > MAX_TAG_CHARS:
        return None
    m = _TAG.fullmatch(text)
    return m.group(1).lower() if m else None


def customer_language(attributes: Any) -> str | None:
    """A customer's language from their attributes as the state database keeps them (JSON text,
    ``{"language": "de-DE"}``) or as a mapping; None when they have none or it is not a tag."""
    if isinstance(attributes, str) and attributes:
        try:
            attributes = json.loads(attributes)
        except ValueError:
            return None
    return normalise_language(attributes.get("language")) if isinstance(attributes, dict) else None


def languages_of(attributes: "pd.Series") -> "pd.Series":
    """``customer_language`` of each customer's attributes, read once per distinct value (a
    cohort's customers share a few dozen)."""
    import pandas as pd

    values = attributes.to_numpy(dtype=object)
    known: dict[Any, str | None] = {}
    out = []
    for v in values.tolist():
        try:
            out.append(known[v])
        except KeyError:
            out.append(known.setdefault(v, customer_language(v)))
        except TypeError:  # an unhashable value (a mapping): read as it is
            out.append(customer_language(v))
    return pd.Series(out, index=attributes.index, dtype=object)


# Day and month names of the languages the emails, the summary and the page write dates in.
# Monday first (``date.weekday()``), January first.
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
           ("January", "February", "March", "April", "May", "June", "July", "August", "September",
            "October", "November", "December")),
    "de": (("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
           ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
            "November", "Dezember")),
    "fr": (("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
           ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
            "novembre", "décembre")),
}
# German abbreviates months to three letters with a full stop, except the short ones ("Mai",
# "Juni", "Juli"); "Mär." for March, as Duden and CLDR do.
_SHORT_MONTHS = {
    "de": ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}
_SHORT_DAYS = {
    "de": ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
}


def locale_language(locale: str | None) -> str:
    """The language of a locale (``de-DE`` -> ``de``) whose dates this module can write, else English."""
    lang = normalise_language(locale) if locale else None
    return lang if lang in NAMES else DEFAULT


def long_date(day: dt.date, lang: str | None) -> str:
    """A date as a letter writes it: 'Monday 07 December 2026' (English, as always),
    'Montag, 7. Dezember 2026', 'lundi 7 décembre 2026'."""
    lang = lang if lang in NAMES else DEFAULT
    weekday = NAMES[lang][0][day.weekday()]
    return f"{weekday}{',' if lang == 'de' else ''} {day_month_year(day, lang)}"


def long_datetime(when: dt.datetime, lang: str | None) -> str:
    """A moment as a letter writes it: 'Monday 07 December 2026, 09:00', 'Montag, 7. Dezember
    2026, 09:00 Uhr', 'lundi 7 décembre 2026 à 09:00' (in the zone ``when`` carries)."""
    lang = lang if lang in NAMES else DEFAULT
    if lang == "de":
        return f"{long_date(when, lang)}, {when:%H:%M} Uhr"
    if lang == "fr":
        return f"{long_date(when, lang)} à {when:%H:%M}"
    return f"{long_date(when, lang)}, {when:%H:%M}"


def day_month_year(day: dt.date, lang: str | None) -> str:
    """'07 December 2026', '7. Dezember 2026', '7 décembre 2026' (no weekday)."""
    lang = lang if lang in NAMES else DEFAULT
    month = NAMES[lang][1][day.month - 1]
    return f"{day.day}. {month} {day.year}" if lang == "de" else (
        f"{day.day} {month} {day.year}" if lang == "fr" else f"{day:%d} {month} {day.year}")


def strftime(when: dt.date, fmt: str, lang: str | None) -> str:
    """``when.strftime(fmt)`` with ``%A %a %B %b`` in ``lang`` (English: exactly strftime's, in
    the C locale the pipeline runs in); the rest (digits, ``%Z``) as strftime writes it."""
    lang = lang if lang in NAMES else DEFAULT
    if lang == DEFAULT:
        return when.strftime(fmt)
    days, months = NAMES[lang]
    words = {"A": days[when.weekday()], "a": _SHORT_DAYS[lang][when.weekday()],
             "B": months[when.month - 1], "b": _SHORT_MONTHS[lang][when.month - 1]}
    # Each name replaced before strftime sees it, '%' in a name impossible: the names are the table's.
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            out.append(words[code] if code in words else when.strftime(fmt[i:i + 2]))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)
