"""The project's own state database: ledger, run history, staging. SQLite by default, PostgreSQL
in production; the same SQL runs on both.

SQL lives in ``include/sql``; queries take named parameters (``:cohort_id``) and are never built
from strings. The schema is created and upgraded by the numbered files in
``include/sql/migrations``, each applied once and recorded in ``schema_migrations``.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from onboarding import settings

_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


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


@functools.cache
def sql(name: str) -> sa.TextClause:
    """A query from include/sql by file name (without .sql)."""
    (statement,) = script(name)
    return statement


@functools.cache
def script(name: str) -> list[sa.TextClause]:
    """A multi-statement file from include/sql, as statements to run in order."""
    return [sa.text(s) for s in _statements((settings.SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))]


def query_text(name: str) -> str:
    """A source query file under include/sql (``sources/website_signups.sql``), comment lines
    dropped; it must hold exactly one statement. Names cannot leave include/sql."""
    path = (settings.SQL_DIR / name).resolve()
    if settings.SQL_DIR.resolve() not in path.parents or path.suffix != ".sql":
        raise FileNotFoundError(name)
    statements = _statements(path.read_text(encoding="utf-8"))
    if len(statements) != 1:
        raise ValueError(f"{name}: expected one SQL statement, found {len(statements)}")
    return statements[0]


def make_engine(url: str) -> sa.Engine:
    """An engine for the state database. SQLite gets a busy timeout and WAL so that concurrent
    tasks wait for each other instead of failing."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _statements(script: str) -> list[str]:
    """Split a SQL file into statements, each ending with ';' at the end of a line (or the file's
    end). Whole-line comments are dropped first: a ':name' in a comment is not a parameter."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.M) if s.strip()]


def migrations() -> list[tuple[str, Path]]:
    found = []
    for path in sorted((settings.SQL_DIR / "migrations").iterdir()):
        m = _MIGRATION_RE.match(path.name)
        if m:
            found.append((m.group(1), path))
    return found


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction. Returns those applied."""
    applied_now = []
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"))
    for version, path in migrations():
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Two workers starting together must not both apply a migration.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7201)"))
            done = conn.execute(sa.text("SELECT 1 FROM schema_migrations WHERE version = :v"),
                                {"v": version}).first()
            if done:
                continue
            for stmt in _statements(path.read_text(encoding="utf-8")):
                conn.exec_driver_sql(stmt)
            conn.execute(sa.text("INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES (:v, :n, :t)"), {"v": version, "n": path.name, "t": iso(utcnow())})
            applied_now.append(path.name)
    return applied_now


def rows(conn: sa.Connection, name: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sql(name), params)]


def pending(engine: sa.Engine) -> list[str]:
    """Migration files not yet applied to this database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return [p.name for _, p in migrations()]
        done = set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
    return [p.name for v, p in migrations() if v not in done]


def main(argv: list[str] | None = None) -> int:
    """``python -m onboarding.state migrate|status [--url URL]``: bring the state database (the
    ``onboarding_state`` connection's, or URL) to the current schema, or list what is pending."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m onboarding.state", description=main.__doc__)
    parser.add_argument("command", choices=["migrate", "status"])
    parser.add_argument("--url", help="SQLAlchemy URL of the state database (default: the Airflow connection)")
    args = parser.parse_args(argv)
    if args.url:
        url = args.url
    else:
        # Outside a task: Airflow's own lookup (environment, secrets backend, metadata database).
        from airflow.models import Connection

        from onboarding.connections import sqlalchemy_url

        url = sqlalchemy_url(Connection.get_connection_from_secrets(settings.STATE_CONN_ID), "the state database")
    engine = make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    if args.command == "status":
        todo = pending(engine)
        print(f"state database {where}: " + (f"pending {todo}" if todo else "up to date"))
        return 1 if todo else 0
    applied = migrate(engine)
    print(f"state database {where}: " + (f"applied {applied}" if applied else "already up to date"))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
