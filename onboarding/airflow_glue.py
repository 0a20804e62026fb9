"""The thin layer between Airflow and the onboarding package: connections in, task calls out.

Connections (see README, "Configuration reference"):
- ``onboarding_state``: the state database. ``sqlite`` (host = path of the database file) or
  ``postgres`` (host, port, login, password, schema = database name).
- ``onboarding_email`` (or a cohort's ``email_connection``): where emails go. Extra
  ``{"backend": "outbox", "path": "..."}`` writes .eml files; ``{"backend": "gmail", ...}`` sends
  through the Gmail API (see ``delivery.gmail_service`` for the keys).

Nothing here logs a connection's password or extra: they hold secrets.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any, Callable

from onboarding import settings

log = logging.getLogger(__name__)


def _connection(conn_id: str):
    from onboarding import connections

    return connections.get(conn_id)


def state_url(conn) -> str:
    """A SQLAlchemy URL for the state database connection."""
    from onboarding.connections import sqlalchemy_url

    return sqlalchemy_url(conn, "the state database")


def state_engine():
    """The state database the connection names, migrated to the current schema."""
    return _engine_for(state_url(_connection(settings.STATE_CONN_ID)))


@functools.cache
def _engine_for(url: str):
    from onboarding import state

    engine = state.make_engine(url)
    applied = state.migrate(engine)
    if applied:
        log.info("state database: applied migrations %s", applied)
    return engine


def sender_factory(conn_id: str) -> Callable[[], Any]:
    """The email backend a connection describes, as a ``delivery.SenderFactory``; looked up only
    when there is something to send."""

    def make():
        from onboarding import delivery
        from onboarding.quota import Limits

        conn = _connection(conn_id)
        extra = conn.extra_dejson or {}
        backend = extra.get("backend") or conn.conn_type
        if backend == "outbox":
            path = extra.get("path") or conn.host or str(settings.data_dir() / "outbox")
            return delivery.outbox_factory(path, int(extra.get("concurrency", 1)))
        if backend == "gmail":
            user = extra.get("user_id", "me")
            account = f"gmail:{conn_id}"
            return delivery.SenderFactory(
                lambda pacer: delivery.GmailSender(delivery.gmail_service(extra), user, account, pacer),
                account, Limits.from_extra(extra))
        raise ValueError(f"connection {conn_id!r}: unknown email backend {backend!r} (outbox or gmail)")

    return make


def plan(params: dict, logical_date: dt.datetime, run_id: str, nightly_tz: str, nightly_time: dt.time,
         triggered_at: dt.datetime | None = None) -> list[dict]:
    """The cohorts this run handles, each with the run's shared context. Bad params fail the run
    at once with the reason (a typo in the form must not send anything)."""
    from airflow.sdk.exceptions import AirflowFailException

    from onboarding.config import ConfigError, load_cohorts, select_cohorts
    from onboarding.decisions import KINDS
    from onboarding.guards import released
    from onboarding.pipeline import Resend, RunContext, resolve_as_of

    try:
        cohorts = select_cohorts(load_cohorts(), params.get("cohort"))
        as_of = resolve_as_of(params.get("as_of"), logical_date, nightly_tz, nightly_time)
        kinds = tuple(params.get("kinds") or KINDS)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"kinds: unknown email kind(s) {sorted(unknown)}; known: {list(KINDS)}")
        resend = Resend.from_params(params.get("resend_customer"), params.get("resend_kind"),
                                    params.get("resend_reason"))
        if resend and len(cohorts) != 1:
            raise ValueError("resend: pick the customer's cohort (not 'all') to resend an email")
        ctx = RunContext(run_id=run_id, as_of=as_of, dry_run=bool(params.get("dry_run")),
                         release_guards=tuple(sorted(released(params.get("release_guards")))),
                         kinds=tuple(k for k in KINDS if k in kinds), send_past_due=bool(params.get("send_past_due")),
                         triggered_at=(triggered_at or logical_date).astimezone(dt.timezone.utc), resend=resend)
    except (ConfigError, ValueError) as exc:
        raise AirflowFailException(str(exc)) from exc
    log.info("run %s decides as of %s%s for cohorts %s; kinds %s%s%s", run_id, as_of.isoformat(),
             " (dry run)" if ctx.dry_run else "", [c.id for c in cohorts], list(ctx.kinds),
             "; past-due reminders allowed" if ctx.send_past_due else "",
             f"; resend {resend.kind} to {resend.email}: {resend.reason}" if resend else "")
    return [{"cohort_id": c.id, "ctx": ctx.to_dict()} for c in cohorts]


def _unpack(item: dict):
    from onboarding.config import load_cohorts
    from onboarding.pipeline import RunContext

    return load_cohorts()[item["cohort_id"]], RunContext.from_dict(item["ctx"])


def _fail_fast(fn):
    """Bad data will not get better by retrying: fail the task at once, with the message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from airflow.sdk.exceptions import AirflowFailException

        from onboarding.config import ConfigError
        from onboarding.sources import DatasetError

        try:
            return fn(*args, **kwargs)
        except (DatasetError, ConfigError) as exc:
            raise AirflowFailException(str(exc)) from exc

    return wrapper


@_fail_fast
def extract(item: dict) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item)
    return pipeline.extract(state_engine(), cohort, ctx)


@_fail_fast
def validate(item: dict, inputs: dict) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item)
    return pipeline.validate(state_engine(), cohort, ctx, inputs)


@_fail_fast
def decide(item: dict) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item)
    return pipeline.decide_cohort(state_engine(), cohort, ctx)


def send(item: dict, try_number: int | None = None) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item)
    if try_number is not None:
        ctx = ctx.with_try(try_number)
    result = pipeline.send(state_engine(), cohort, ctx, sender_factory(cohort.email_connection))
    pipeline._record_run(state_engine(), cohort, ctx, "sent" if not ctx.dry_run else "decided")
    return result


def report(item: dict, try_number: int | None = None) -> dict:
    """Send the instructor's summary; fail the task afterwards if the cohort's run failed."""
    from airflow.sdk.exceptions import AirflowFailException

    from onboarding import pipeline, state

    cohort, ctx = _unpack(item)
    if try_number is not None:
        ctx = ctx.with_try(try_number)
    engine = state_engine()
    with engine.connect() as conn:
        run = (state.rows(conn, "summary_run", run_id=ctx.run_id, cohort_id=cohort.id) or [{}])[0]
    failure = None
    if run.get("status") not in ("sent", "decided", "done", "dry_run"):  # failed, held, or stopped early
        failure = run.get("error") or (f"the run stopped after stage {run.get('status', 'none')!r}; "
                                       f"see the task logs")
    result = pipeline.report(engine, cohort, ctx, sender_factory(cohort.email_connection), failure=failure)
    if failure:
        raise AirflowFailException(f"cohort {cohort.id}: {failure}")
    return result
