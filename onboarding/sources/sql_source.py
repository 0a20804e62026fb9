"""Rows from a database through an Airflow connection (``sqlite`` or ``postgres``)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onboarding import sqlfiles
from onboarding.configmodel import Text, typed
from onboarding.errors import DatasetError, SourceUnavailable
from onboarding.sources import snapshot
from onboarding.sources.csv_source import read_csv_snapshot
from onboarding.sources.config import SourceConfig, SourceSpec
from onboarding.sources.snapshot import Snapshot

if TYPE_CHECKING:
    import pandas as pd

    from onboarding.sources import SourceClients


def _parameters(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError("expected a mapping of query parameter -> value")
    return value


class SqlSpec(SourceSpec):
    """A sql source in the cohort file: ``connection``, ``query`` (a file under ``include/sql/``)
    and ``parameters`` (bind values besides ``:cohort_id``)."""

    type: Literal["sql"] = "sql"
    connection: Text
    """Airflow connection of the database."""
    query: Text
    """A file under include/sql/."""
    parameters: typed(dict, _parameters, {"type": "object"}) | None = None
    """Bind values besides :cohort_id."""


class SqlSource:
    """Options: ``connection`` (the Airflow connection id), ``query`` (a file in ``include/sql/``,
    e.g. ``sources/website_signups.sql``) and ``parameters`` (extra bind values). The query is run
    with ``:cohort_id`` bound to the cohort's id, never formatted into the text. Its result is
    written to the run folder as CSV (the snapshot), so the run reads the same rows on a retry.
    """

    def __init__(self, config: SourceConfig, cohort_id: str | None = None, clients: "SourceClients | None" = None):
        self.config = config
        self.cohort_id = cohort_id
        self.clients = clients
        for key in ("connection", "query"):
            if not config.options.get(key):
                raise DatasetError(f"{config.role} source: a sql source needs {key!r}")
        self.query_file = str(config.options["query"])

    @property
    def location(self) -> str:
        return self.config.location

    def _url(self) -> str:
        conn_id = self.config.options["connection"]
        if self.clients is None:
            raise DatasetError(f"{self.location}: no connections were handed to this source")
        try:
            return self.clients.database_url(conn_id, f"the {self.config.role} source")
        except LookupError as exc:
            raise DatasetError(f"{self.location}: Airflow connection {conn_id!r} not found ({exc})") from None
        except ValueError as exc:
            raise DatasetError(f"{self.location}: {exc}") from None

    def snapshot(self, dest_dir: Any) -> Snapshot:
        import csv

        import sqlalchemy as sa

        from onboarding.times import utcnow

        try:
            text = sqlfiles.source_query(self.query_file)
        except FileNotFoundError:
            raise DatasetError(f"{self.location}: query file not found under include/sql/") from None
        except ValueError as exc:
            raise DatasetError(f"{self.location}: {exc}") from None
        params = {"cohort_id": self.cohort_id, **(self.config.options.get("parameters") or {})}

        def fill(tmp: Path) -> str | None:
            engine = sa.create_engine(self._url(), poolclass=sa.pool.NullPool)
            try:
                conn = engine.connect()
            except sa.exc.DBAPIError as exc:
                engine.dispose()
                raise SourceUnavailable(f"{self.location}: the database did not answer: "
                                        f"{str(exc.orig).strip().splitlines()[0]}") from exc
            try:
                stmt = sa.text(text)
                wanted = set(stmt.compile().params)
                missing = wanted - set(params)
                if missing:
                    raise DatasetError(f"{self.location}: the query needs parameter(s) {sorted(missing)}; "
                                       f"set them under 'parameters' in the source's config")
                result = conn.execute(stmt, {k: v for k, v in params.items() if k in wanted})
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    out = csv.writer(fh)
                    out.writerow(list(result.keys()))
                    for row in result:
                        out.writerow([_sql_value(v) for v in row])
            except sa.exc.DBAPIError as exc:
                first = str(exc.orig).strip().splitlines()[0]
                if exc.connection_invalidated:  # the connection dropped mid-query: worth a retry
                    raise SourceUnavailable(f"{self.location}: the database connection was lost: {first}") from exc
                raise DatasetError(f"{self.location}: the query failed: {first}") from None
            finally:
                conn.close()
                engine.dispose()
            # A database is read live: its rows are as fresh as the moment they were read.
            return utcnow().isoformat()

        return snapshot.take(dest_dir, self.config.role, ".csv", "sql", self.location, fill)

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        return read_csv_snapshot(snap)


def _sql_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)
