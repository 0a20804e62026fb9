"""Airflow connections as the onboarding package uses them: looked up by id only when a task
needs one (never at DAG parse time), turned into what our code talks to.

Outside a running Airflow (tests, the demo) the lookup still works: Airflow's task SDK reads
``AIRFLOW_CONN_<ID>`` environment variables and any configured secrets backend. Nothing here
logs a password or an ``extra``: they hold secrets.
"""
from __future__ import annotations

from urllib.parse import quote


def get(conn_id: str):
    """The Airflow connection ``conn_id``."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def sqlalchemy_url(conn, purpose: str = "a database") -> str:
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


def extra(conn_id: str) -> dict:
    """A connection's ``extra`` as a dict (Google connections keep their settings there)."""
    return get(conn_id).extra_dejson or {}
