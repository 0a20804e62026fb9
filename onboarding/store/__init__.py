"""The state database behind named methods: the stages call these and never run SQL themselves.

    store = Store(engine)
    with store.transaction() as tx:       # everything inside commits together, or not at all
        tx.decisions.replace(...)
        tx.ledger.plan(...)

Tables, each behind one class: ``runs`` (a cohort's run: moment, status, inputs, counts, guards),
``staging`` (the validated rows a run read, quarantine, reconciliation), ``decisions`` (standings
and the emails considered), ``ledger`` (every email ever due, exactly once), ``reports`` (what
the instructor and the data team read back about a run), ``analytics`` (the analytics views
and one customer's history, for the Onboarding page) ``suppressions`` (who must not be emailed) and ``mailbox`` (bounces and unsubscribe mails read
back from the sender's mailbox) ``erasures`` (people forgotten on request: hashes only) and
``journeys`` (stage visits and approvals). The SQL is in ``include/sql``.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

import sqlalchemy as sa

from onboarding import sqlfiles
from onboarding.store import db

if TYPE_CHECKING:
    import pandas as pd

BULK_CHUNK = 100_000  # rows per chunk streamed to PostgreSQL's COPY


def _values(column: "pd.Series") -> list:
    """A column as plain Python values for the driver (missing: None)."""
    values = column.tolist()
    if column.dtype.kind in "fO" or str(column.dtype) == "str":
        values = [None if v is None or v != v else v for v in values]  # NaN -> None
    return values


class Store:
    """One state database; every method commits on its own unless called inside ``transaction``."""

    def __init__(self, engine: sa.Engine, conn: sa.Connection | None = None):
        from onboarding.store.analytics import Analytics
        from onboarding.store.decisions import Decisions
        from onboarding.store.erasures import Erasures
        from onboarding.store.journeys import JourneyTables
        from onboarding.store.ledger import LedgerTable
        from onboarding.store.mailbox import MailboxTable
        from onboarding.store.reports import Reports
        from onboarding.store.resends import Resends
        from onboarding.store.runs import Runs
        from onboarding.store.staging import Staging
        from onboarding.store.suppressions import Suppressions

        self.engine = engine
        self._conn = conn
        self.runs = Runs(self)
        self.staging = Staging(self)
        self.decisions = Decisions(self)
        self.ledger = LedgerTable(self)
        self.reports = Reports(self)
        self.analytics = Analytics(self)
        self.suppressions = Suppressions(self)
        self.mailbox = MailboxTable(self)
        self.erasures = Erasures(self)
        self.journeys = JourneyTables(self)
        self.resends = Resends(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Store"]:
        """A store whose calls share one transaction: committed at the end of the block, rolled back
        if it raises."""
        if self._conn is not None:
            yield self
            return
        with self.engine.begin() as conn:
            yield Store(self.engine, conn)

    @contextlib.contextmanager
    def bounded(self, seconds: int) -> Iterator["Store"]:
        """A transaction whose every statement is cut off after ``seconds`` on PostgreSQL (SQLite has
        no statement timeout): for work that can be done later and must never hold the night."""
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.rows("statement_timeout", ms=str(int(seconds * 1000)))
            yield tx

    @contextlib.contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        """The transaction's connection, or a new one committed at the end (for the tables)."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            yield conn

    # The tables' plumbing: named SQL files, bound parameters.
    def rows(self, name: str, **params: Any) -> list[dict[str, Any]]:
        with self.connection() as conn:
            return [dict(r._mapping) for r in conn.execute(db.sql(name), params)]

    def frame(self, name: str, times: tuple[str, ...] = (), **params: Any) -> "pd.DataFrame":
        """A query's rows as a table; the ``times`` columns (ISO text in the database) as UTC times."""
        import pandas as pd

        with self.connection() as conn:
            df = pd.read_sql(db.sql(name), conn, params=params)
        for col in times:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        return df

    def scalar(self, name: str, **params: Any) -> Any:
        with self.connection() as conn:
            return conn.execute(db.sql(name), params).scalar()

    def execute(self, name: str, params: dict[str, Any] | list[dict[str, Any]]) -> int:
        if isinstance(params, list) and not params:
            return 0
        with self.connection() as conn:
            return conn.execute(db.sql(name), params).rowcount

    def each(self, name: str, params: list[dict[str, Any]]) -> list[int]:
        """Run a one-statement file once per parameter set, in one transaction, through the
        driver's cursor (no per-statement overhead of SQLAlchemy): the rows each run changed."""
        if not params:
            return []
        sql, order = sqlfiles.positional(name, "format" if self.dialect == "postgresql" else "qmark")
        counts = []
        with self.connection() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                for p in params:
                    cur.execute(sql, tuple(p[k] for k in order))
                    counts.append(cur.rowcount)
            finally:
                cur.close()
        return counts

    def lookup(self, name: str, params: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """A one-row query run once per parameter set through the driver's cursor, like ``each``:
        each set's row, or None."""
        sql, order = sqlfiles.positional(name, "format" if self.dialect == "postgresql" else "qmark")
        found: list[dict[str, Any] | None] = []
        with self.connection() as conn:
            cur = conn.connection.driver_connection.cursor()
            try:
                for p in params:
                    cur.execute(sql, tuple(p[k] for k in order))
                    row = cur.fetchone()
                    found.append(None if row is None else dict(zip([d[0] for d in cur.description], row)))
            finally:
                cur.close()
        return found

    def bulk(self, name: str, rows: "pd.DataFrame") -> int:
        """Insert many rows at once: ``rows`` has a column per parameter of ``insert_<name>.sql``.
        PostgreSQL streams them through ``copy_<name>.sql`` (COPY, CSV, in chunks); SQLite runs the
        insert for every row in one call of its driver."""
        if rows.empty:
            return 0
        with self.connection() as conn:
            raw = conn.connection.driver_connection
            if self.dialect == "postgresql":
                _, order = sqlfiles.positional(f"insert_{name}", "format")
                (copy,) = sqlfiles.load(f"copy_{name}")
                with raw.cursor() as cur, cur.copy(copy) as pipe:
                    for start in range(0, len(rows), BULK_CHUNK):
                        part = rows.iloc[start:start + BULK_CHUNK]
                        for row in zip(*(_values(part[c]) for c in order)):
                            pipe.write_row(row)
            else:
                sql, order = sqlfiles.positional(f"insert_{name}", "qmark")
                for start in range(0, len(rows), BULK_CHUNK):
                    part = rows.iloc[start:start + BULK_CHUNK]
                    raw.executemany(sql, zip(*(_values(part[c]) for c in order)))
        return len(rows)

    def analyze(self) -> None:
        """Fresh planner statistics after bulk loads (PostgreSQL; SQLite plans from its indexes)."""
        if self.dialect == "postgresql":
            self.script("analyze_run", {})

    def script(self, name: str, params: dict[str, Any]) -> None:
        with self.connection() as conn:
            for stmt in db.script(name):
                conn.execute(stmt, params)

    def migrate(self) -> list[str]:
        """Apply the schema migrations not yet applied (see ``db.migrate``)."""
        return db.migrate(self.engine)
