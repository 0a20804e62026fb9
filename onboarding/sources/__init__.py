"""Sources: where signups and completions come from.

A source does two things: ``snapshot`` copies what it reads, byte for byte, into the run's folder
(so a run can be audited and replayed: the same inputs give the same decisions), and ``read``
turns a snapshot into a table of strings, one row per record, with the record's row number as a
spreadsheet shows it (header is row 1). Three types: ``csv`` (a local path or an object-storage
URL), ``sql`` (a query through an Airflow connection) and ``google_sheet`` (gspread). Each module
also holds its type's options as a typed model (``CsvSpec``...: a ``sources.config.SourceSpec``).
Adding one means adding a module here, a branch in ``make_source`` and its model in
``cohorts.SOURCE_SPECS``; nothing downstream changes.

Sources never look up a connection: the clients they need are handed in (``SourceClients``,
which ``onboarding.resources`` implements from Airflow's connections).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from onboarding.sources.config import SourceConfig
from onboarding.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

    from onboarding.sources.snapshot import Snapshot


class SourceClients(Protocol):
    """What sources need from the outside world, by Airflow connection id."""

    def database_url(self, conn_id: str, purpose: str) -> str:
        """A SQLAlchemy URL for a ``sqlite`` or ``postgres`` connection."""

    def sheets(self, conn_id: str) -> Any:
        """A gspread client (read scopes) for a Google connection."""


class Source(Protocol):
    config: SourceConfig

    def snapshot(self, dest_dir: Any) -> "Snapshot": ...

    def read(self, snap: "Snapshot") -> "pd.DataFrame": ...


def make_source(config: SourceConfig, cohort_id: str | None = None, clients: SourceClients | None = None) -> Source:
    """The source a cohort's config describes (``type``: csv, sql or google_sheet)."""
    if config.type == "csv":
        from onboarding.sources.csv_source import CsvSource

        return CsvSource(config)
    if config.type == "sql":
        from onboarding.sources.sql_source import SqlSource

        return SqlSource(config, cohort_id, clients)
    if config.type == "google_sheet":
        from onboarding.sources.sheet_source import GoogleSheetSource

        return GoogleSheetSource(config, clients)
    raise DatasetError(f"{config.role} source: unknown type {config.type!r}; available: ['csv', 'sql', 'google_sheet']")
