"""Resources: Airflow connection ids become the clients our code talks to, here and nowhere else.

A task makes one ``Resources`` and hands what it needs to the stages, as dagster's resources do:
the state database (``store``), the email account (``email``), Google Sheets (``sheets``,
``sheet_writer``), a source's database (``database_url``) and Airflow variables (``variable``).
Connections are looked up only when a client is first needed (never at DAG parse time), through
Airflow's task SDK, which reads ``AIRFLOW_CONN_<ID>`` environment variables, any configured
secrets backend and the metadata database. Tests may hand in connections of their own.

Connections (see docs/reference/environment.md):
- ``onboarding_state``: the state database. ``sqlite`` (host = path of the database file) or
  ``postgres`` (host, port, login, password, schema = database name).
- ``onboarding_email`` (or a cohort's ``email_connection``): where emails go. Extra
  ``{"backend": "outbox", "path": "..."}`` writes .eml files; ``{"backend": "gmail", ...}`` sends
  through the Gmail API (see ``onboarding.google_api.gmail_service`` for the keys).
- ``onboarding_google``: Google Sheets (sources and the instructor's spreadsheet).

Nothing here logs a connection's password or extra: they hold secrets.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

from onboarding import paths, redaction

if TYPE_CHECKING:
    from onboarding.delivery.senders import SenderFactory
    from onboarding.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnInfo:
    """The fields of an Airflow connection that our clients read."""

    conn_id: str
    conn_type: str = ""
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, conn_id: str, spec: dict) -> "ConnInfo":
        """A connection in Airflow's JSON form (``{"conn_type": ..., "extra": {...}}``)."""
        extra = spec.get("extra") or {}
        return cls(conn_id, spec.get("conn_type", ""), spec.get("host"), spec.get("port"), spec.get("login"),
                   spec.get("password"), spec.get("schema"), json.loads(extra) if isinstance(extra, str) else extra)


def sqlalchemy_url(conn: ConnInfo, purpose: str = "a database") -> str:
    """A SQLAlchemy URL for a ``sqlite`` (host = the database file) or ``postgres`` connection."""
    ctype = (conn.conn_type or "").lower()
    if ctype == "sqlite":
        if not conn.host:
            raise ValueError(f"connection {conn.conn_id!r}: a sqlite connection needs host = the database file path")
        return f"sqlite:///{conn.host}"
    if ctype in ("postgres", "postgresql"):
        auth = quote(conn.login or "", safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        return (f"postgresql+psycopg://{auth}{'@' if auth else ''}{conn.host or 'localhost'}:{conn.port or 5432}"
                f"/{conn.schema or 'postgres'}")
    raise ValueError(f"connection {conn.conn_id!r}: type {conn.conn_type!r} is not supported for {purpose} "
                     f"(use sqlite or postgres)")


def airflow_connection(conn_id: str) -> ConnInfo:
    """Airflow's connection ``conn_id`` (environment, secrets backend, metadata database)."""
    from airflow.sdk import BaseHook

    try:
        c = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises its own "not defined" error
        raise LookupError(str(exc)) from None
    return ConnInfo(conn_id, c.conn_type or "", c.host, c.port, c.login, c.password, c.schema, c.extra_dejson or {})


def metadata_connection(conn_id: str) -> ConnInfo:
    """Outside a task (a command line tool): Airflow's own lookup of ``conn_id`` (environment,
    secrets backend, then the metadata database)."""
    from airflow.models import Connection

    try:
        c = Connection.get_connection_from_secrets(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises its own "not defined" error
        raise LookupError(str(exc)) from None
    return ConnInfo(conn_id, c.conn_type or "", c.host, c.port, c.login, c.password, c.schema, c.extra_dejson or {})


def metadata_variable(key: str) -> str | None:
    """Outside a task (a command line tool, the api-server's plugin): Airflow's own lookup of a
    variable (environment, secrets backend, then the metadata database); None when not set."""
    from airflow.models import Variable

    try:
        return Variable.get(key, default_var=None)
    except Exception:  # noqa: BLE001 - an unreadable variable means "not set" to its readers
        return None


def airflow_variable(key: str) -> str | None:
    """An Airflow variable, or ``None`` when it is not set (or cannot be read)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(key, default=None)
    except Exception:  # noqa: BLE001 - an unreadable variable means "not set" to its readers
        return None


@functools.cache
def _engine_for(url: str):
    from onboarding.store import db

    engine = db.make_engine(url)
    applied = db.migrate(engine)
    if applied:
        log.info("state database: applied migrations %s", applied)
    return engine


def _register_secrets(*values: object) -> None:
    """Secrets this process has read are masked in what the pipeline stores and reports
    (``redaction``) and in every log line Airflow writes, tracebacks included (Airflow's secrets
    masker, in this task process and, through the task SDK, in its supervisor): an error text
    that echoes one, such as google-auth's RefreshError, then shows ``***`` instead."""
    redaction.register(*values)
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # a tool run without Airflow: nothing of Airflow's logs to mask
        return
    for v in values:
        if isinstance(v, str) and len(v) >= 6:
            mask_secret(v)


class Resources:
    """The clients of one task, made from Airflow connections on first use."""

    def __init__(self, connections: dict[str, dict] | None = None, variables: dict[str, str] | None = None,
                 lookup: Callable[[str], ConnInfo] = airflow_connection,
                 variable_lookup: Callable[[str], str | None] = airflow_variable):
        self._given = {k: ConnInfo.from_json(k, v) for k, v in (connections or {}).items()}
        self._variables = variables
        self._lookup, self._variable_lookup = lookup, variable_lookup

    @classmethod
    def outside_task(cls) -> "Resources":
        """For command line tools run beside Airflow rather than inside a task."""
        return cls(lookup=metadata_connection, variable_lookup=metadata_variable)

    def connection(self, conn_id: str) -> ConnInfo:
        """A connection by id; ``LookupError`` when it is not defined. Its secrets are registered
        for redaction, so no error text that echoes them is ever stored or reported."""
        conn = self._given[conn_id] if conn_id in self._given else self._lookup(conn_id)
        extra = conn.extra or {}
        key = extra.get("keyfile_dict")
        private = key.get("private_key") if isinstance(key, dict) else key
        _register_secrets(conn.password, extra.get("client_secret"), extra.get("refresh_token"), private)
        return conn

    def variable(self, key: str) -> str | None:
        value = self._variables.get(key) if self._variables is not None else self._variable_lookup(key)
        if "secret" in key.lower():  # the unsubscribe links' signing key, say: never in a log either
            _register_secrets(value)
        return value

    def store(self) -> "Store":
        """The state database (``onboarding_state``), migrated to the current schema."""
        from onboarding.store import Store

        return Store(_engine_for(sqlalchemy_url(self.connection(paths.STATE_CONN_ID), "the state database")))

    def database_url(self, conn_id: str, purpose: str = "a database") -> str:
        return sqlalchemy_url(self.connection(conn_id), purpose)

    def sheets(self, conn_id: str) -> Any:
        """A gspread client that reads (sources)."""
        from onboarding.google_api import sheets_client

        return sheets_client(self.connection(conn_id).extra)

    def sheet_writer(self, conn_id: str) -> Any:
        """A gspread client that writes (the instructor's spreadsheet)."""
        from onboarding.google_api import SHEETS_WRITE_SCOPES, sheets_client

        return sheets_client(self.connection(conn_id).extra, SHEETS_WRITE_SCOPES)

    def outbox_path(self, conn_id: str) -> str | None:
        """The local outbox folder an email connection writes to; None for any other backend."""
        conn = self.connection(conn_id)
        extra = conn.extra or {}
        if (extra.get("backend") or conn.conn_type) != "outbox":
            return None
        return extra.get("path") or conn.host or str(paths.data_dir() / "outbox")

    def outbox_paths(self, conn_ids) -> list[str]:
        """The local outbox folders these email connections write to, each once; a connection
        that is not defined has none (its cohort's own tasks fail on it)."""
        out: list[str] = []
        for conn_id in conn_ids:
            try:
                path = self.outbox_path(conn_id)
            except LookupError:
                continue
            if path and path not in out:
                out.append(path)
        return out

    def email(self, conn_id: str) -> Callable[[], "SenderFactory"]:
        """The email account a connection describes, made only when there is something to send."""

        def make() -> "SenderFactory":
            from onboarding.delivery.quota import Limits
            from onboarding.delivery.senders import GmailSender, SenderFactory, outbox_factory

            conn = self.connection(conn_id)
            extra = conn.extra or {}
            backend = extra.get("backend") or conn.conn_type
            if backend == "outbox":
                return outbox_factory(self.outbox_path(conn_id), int(extra.get("concurrency", 1)))
            if backend == "gmail":
                from onboarding.google_api import gmail_service

                user = extra.get("user_id", "me")
                account = f"gmail:{conn_id}"
                return SenderFactory(lambda pacer: GmailSender(gmail_service(extra), user, account, pacer),
                                     account, Limits.from_extra(extra))
            raise ValueError(f"connection {conn_id!r}: unknown email backend {backend!r} (outbox or gmail)")

        return make
