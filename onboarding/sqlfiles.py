"""The SQL files in ``include/sql``: every statement the project runs lives there, with named
parameters (``:cohort_id``), never built from strings."""
from __future__ import annotations

import functools
import re

from onboarding.paths import SQL_DIR


def statements(script: str) -> list[str]:
    """Split a SQL file into statements, each ending with ';' at the end of a line (or the file's
    end). Whole-line comments are dropped first: a ':name' in a comment is not a parameter."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


@functools.cache
def load(name: str) -> tuple[str, ...]:
    """The statements of ``include/sql/<name>.sql``, in order."""
    return tuple(statements((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")))


@functools.cache
def positional(name: str, style: str) -> tuple[str, tuple[str, ...]]:
    """A one-statement file with its named parameters (``:cohort_id``) turned into the driver's
    positional style (``qmark``: ``?``, ``format``: ``%s``), and the names in their order: for
    inserting many rows as tuples."""
    (text,) = load(name)
    order = tuple(re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", text))
    return re.sub(r"(?<![:\w]):[A-Za-z_]\w*", "?" if style == "qmark" else "%s", text), order


def source_query(name: str) -> str:
    """A source query file under include/sql (``sources/website_signups.sql``), comment lines
    dropped; it must hold exactly one statement. Names cannot leave include/sql."""
    path = (SQL_DIR / name).resolve()
    if SQL_DIR.resolve() not in path.parents or path.suffix != ".sql" or not path.is_file():
        raise FileNotFoundError(name)
    found = statements(path.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise ValueError(f"{name}: expected one SQL statement, found {len(found)}")
    return found[0]
