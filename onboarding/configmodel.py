"""The typed shape of the configuration files: a pydantic base model and the value types the cohort
file, the journey file and every source type share.

A model refuses an unknown key and a missing one itself (naming every key it knows), and its
field types carry the sentence a mistake gets; ``config_error`` turns pydantic's errors into one
``ConfigError`` naming the file, the cohort or journey, and the key. The JSON Schemas published
in ``schemas/`` are generated from these models (``python -m onboarding.ops.schema``).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema, model_validator

from onboarding.errors import ConfigError

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
TAG = "§"  # marks a variant's tag (a source's type) in an error's key path, where it is left out
ID_RE = re.compile(ID_PATTERN[1:-1])


class FileModel(BaseModel):
    """A mapping of the configuration: strict types, unknown keys refused. A required key given as
    null or '' counts as missing; the sentences name what this mapping is (``_what``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)

    @classmethod
    def what(cls) -> str:
        """Said after "unknown key(s) [...]" (' for a csv source')."""
        return ""

    SHAPE: ClassVar[str] = "expected a mapping"  # what the value must look like, said when it is not a mapping at all

    @classmethod
    def keys(cls) -> list[str]:
        return [f.alias or name for name, f in cls.model_fields.items()]

    @classmethod
    def missing_message(cls, missing: list[str], data: dict) -> str:
        return f"'{missing[0]}' is required"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(cls.SHAPE)
        unknown = sorted(str(k) for k in data if k not in cls.keys())
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}{cls.what()}; known: {cls.keys()}")
        missing = [(f.alias or n) for n, f in cls.model_fields.items()
                   if f.is_required() and data.get(f.alias or n) in (None, "")]
        if missing:
            raise ValueError(cls.missing_message(missing, data))
        return data


def typed(kind: type, check: Callable[[Any], Any], schema: dict) -> Any:
    """A value type whose check (raising ``ValueError`` with the sentence to show) also converts:
    a duration's text becomes a ``timedelta``; ``schema`` is what an editor is told it is."""
    return Annotated[kind, PlainValidator(check), WithJsonSchema(schema)]


def _id(value: Any) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits, '-' or '_'")
    return value


Id = typed(str, _id, {"type": "string", "pattern": ID_PATTERN})


def one_line(limit: int = 200) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or any(c in str(value) for c in "\r\n") \
                or len(str(value)) > limit:
            raise ValueError(f"expected one line of at most {limit} characters")
        return str(value)
    return typed(str, check, {"type": "string", "maxLength": limit, "pattern": "^[^\\r\\n]*$"})


def _date(value: Any) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        shown = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value
        raise ValueError(f"{shown!r} is not a date (YYYY-MM-DD); the time is always end of day")
    return value


Text = Annotated[str, Field(min_length=1)]
Date = typed(dt.date, _date, {"type": "string", "format": "date"})


def whole(low: int, high: int, what: str = "") -> Any:
    """A whole number from ``low`` to ``high`` (never ``true``)."""
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a whole number{what} from {low} to {high}, not {value!r}")
        return value
    return typed(int, check, {"type": "integer", "minimum": low, "maximum": high})


def choice(values: Sequence[str], say: str = "expected one of {values}, got {value!r}") -> Any:
    """One of ``values``; another is refused with ``say``."""
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in values:
            raise ValueError(say.format(values=list(values), value=value))
        return value
    return typed(str, check, {"enum": list(values)})


def number(value: Any) -> float:
    """A finite number: ``.nan`` would pass every comparison's "not below" and ``.inf`` fail everyone."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


Number = typed(float, number, {"type": "number"})


def where_of(loc: Sequence[Any], sep: str, name: Callable[[tuple], str | None] = lambda loc: None) -> str:
    """An error's key path as the messages write it: ``sources.signups.columns`` (``sep`` '.') or
    ``stage 'details': next[0]: to`` (``sep`` ': ', ``name`` naming a list item by its id)."""
    parts: list[str] = []
    for i, key in enumerate(loc):
        label = name(tuple(loc[:i + 1]))
        if label:
            parts[-1:] = [label]
        elif isinstance(key, int) and parts:
            parts[-1] += f"[{key}]"
        else:
            parts.append(str(key))
    return sep.join(parts)


def config_error(exc: ValidationError, where: str, sep: str = ".",
                 name: Callable[[tuple], str | None] = lambda loc: None) -> ConfigError:
    """The first of pydantic's errors as one sentence naming where (``cohort 'c1'``), the key path
    and what is wrong with the value."""
    err = exc.errors(include_url=False)[0]
    loc = [k for k in err["loc"] if not (isinstance(k, str) and k.startswith(TAG))]
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc.append("type")
    path = where_of(loc, sep, name)
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, (ValueError, AssertionError)) and str(error):
        message = str(error)
    elif err["type"] == "union_tag_invalid":
        message = f"{err['ctx']['tag'].removeprefix(TAG)!r} is not one of {list(_tags(err['ctx']['expected_tags']))}"
    else:
        message = f"{err['msg'][0].lower()}{err['msg'][1:]}, not {err['input']!r}"
    return ConfigError(f"{where}{sep}{path}: {message}" if path else f"{where}: {message}")


def _tags(expected: str) -> list[str]:
    return [t.strip().strip("'").removeprefix(TAG) for t in expected.split(",")]
