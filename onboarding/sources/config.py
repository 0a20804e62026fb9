"""What every source type is configured with: the keys all share (``columns``, ``timezone``,
``timestamp_format``), the typed model each source type extends with its own options (in its own
module), and ``SourceConfig``, one export's configuration as the pipeline uses it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from onboarding.configmodel import FileModel, typed


@dataclass(frozen=True)
class SourceConfig:
    """Where one export comes from and how its columns are named."""

    role: str  # one of onboarding.cohorts.EXPORT_ROLES
    type: str  # csv, sql or google_sheet
    columns: dict[str, str]  # our field -> the export's header
    options: dict[str, Any] = field(default_factory=dict)  # the type's own keys (path, encoding, ...)
    timezone: str | None = None  # for timestamps written without an offset
    # strftime format, 'iso' or 'excel_serial', or a tuple of them tried in order; ISO 8601 when unset
    timestamp_format: str | tuple[str, ...] | None = None
    # A journey cohort's wide export: the timestamp fields its stages' evidence names (a cell per stage).
    timestamps: tuple[str, ...] = ()
    # Fields read as attributes (a CSM's language; a customer's, for ``csm_match``): text, one line.
    attributes: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        if self.type == "sql":
            return f"sql:{self.options.get('connection')}/{self.options.get('query')}"
        if self.type == "google_sheet":
            ws = self.options.get("worksheet")
            return f"google-sheet:{self.options.get('spreadsheet')}" + (f" [{ws}]" if ws else "")
        return str(self.options.get("path") or self.type)


def check_timezone(name: Any) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like 'Australia/Sydney')") from None
    return str(name)


TimeZone = typed(str, check_timezone, {"type": "string", "description": "an IANA zone, like Australia/Sydney"})


def _columns(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                              for v in value.values()):
        raise ValueError("expected a mapping of field -> export column name")
    return {str(k): str(v) for k, v in value.items()}


def _formats(value: Any) -> str | tuple[str, ...]:
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
        raise ValueError("expected a format ('%d/%m/%Y %H:%M', 'iso', 'excel_serial') or a list of them")
    return formats[0] if len(formats) == 1 else tuple(formats)


_FORMAT = {"type": "string", "minLength": 1, "description": "strftime format, iso or excel_serial"}
Columns = typed(dict, _columns, {"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "our field -> the export's header"})
Formats = typed(object, _formats, {"anyOf": [_FORMAT, {"type": "array", "items": _FORMAT, "minItems": 1}]})


class SourceSpec(FileModel):
    """One export as the cohort file gives it: its type's options, and how its columns are named.
    Each source type subclasses it with its ``type`` and options."""

    COMMON: ClassVar[tuple[str, ...]] = ("type", "columns", "timezone", "timestamp_format")

    columns: Columns
    """Our field -> the export's header."""
    timezone: TimeZone | None = None
    """Zone of timestamps without an offset (default: the cohort's)."""
    timestamp_format: Formats | None = None
    """strftime format, `iso` or `excel_serial`, or a list tried in order (default ISO 8601)."""

    @classmethod
    def what(cls) -> str:
        return f" for a {cls.model_fields['type'].default} source"

    SHAPE: ClassVar[str] = "expected a mapping with 'type' and 'columns'"

    @classmethod
    def missing_message(cls, missing: list[str], data: dict) -> str:
        if "columns" in missing:
            return "columns: expected a mapping of field -> export column name"
        return f"a {cls.model_fields['type'].default} source needs {', '.join(repr(k) for k in missing)}"

    def options(self) -> dict[str, Any]:
        """The type's own keys, as the file gave them."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in self.COMMON}
