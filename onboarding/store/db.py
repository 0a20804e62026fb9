"""The state database's engine, schema and time format. SQLite by default, PostgreSQL in
production; the same SQL runs on both.

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

from onboarding import sqlfiles
from onboarding.paths import SQL_DIR
from onboarding.times import iso, utcnow

# 0007_name.sql runs on every database; 0008_name.sqlite.sql / 0008_name.postgresql.sql are one
# migration written for each dialect (only where the SQL must differ).
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+(?:\.(sqlite|postgresql))?\.sql$")


@functools.cache
def sql(name: str) -> sa.TextClause:
    """A one-statement file from include/sql by name (without .sql)."""
    (statement,) = script(name)
    return statement


@functools.cache
def script(name: str) -> tuple[sa.TextClause, ...]:
    """A multi-statement file from include/sql, as statements to run in order."""
    return tuple(sa.text(s) for s in sqlfiles.load(name))


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
            # In WAL mode NORMAL loses no committed data on a crash (only on power loss); a 64 MB
            # page cache keeps the indexes of a million-row bulk load in memory.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return engine
    # No JIT: it compiles each big set-based query anew (~0.4 s) for no gain at these sizes.
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"})


def migrations(dialect: str = "sqlite") -> list[tuple[str, Path]]:
    """The migration files for a dialect, in order: the shared ones and that dialect's own."""
    found = []
    for path in sorted((SQL_DIR / "migrations").iterdir()):
        m = _MIGRATION_RE.match(path.name)
        if m and m.group(2) in (None, dialect):
            found.append((m.group(1), path))
    return found


def migrate(engine: sa.Engine) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction. Returns those applied."""
    applied_now = []
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"))
    for version, path in migrations(engine.dialect.name):
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Two workers starting together must not both apply a migration.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7201)"))
            done = conn.execute(sa.text("SELECT 1 FROM schema_migrations WHERE version = :v"),
                                {"v": version}).first()
            if done:
                continue
            for stmt in sqlfiles.statements(path.read_text(encoding="utf-8")):
                conn.exec_driver_sql(stmt)
            conn.execute(sa.text("INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES (:v, :n, :t)"), {"v": version, "n": path.name, "t": iso(utcnow())})
            applied_now.append(path.name)
    return applied_now


def pending(engine: sa.Engine) -> list[str]:
    """Migration files not yet applied to this database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return [p.name for _, p in migrations(engine.dialect.name)]
        done = set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
    return [p.name for v, p in migrations(engine.dialect.name) if v not in done]
