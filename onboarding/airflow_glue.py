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


def alert_failure(context: dict) -> None:
    """``on_failure_callback``: email the data team once about a task that failed for good (see
    ``onboarding.alerts``). An alert that cannot be sent is logged; it never hides the failure."""
    try:
        _alert(context)
    except Exception:  # noqa: BLE001 - the task has failed already; say why the alert did not go
        log.exception("failure alert not sent")


def _variable(key: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(key, default=None)
    except Exception:  # noqa: BLE001 - an unreadable variable means "not set" for an alert
        return None


def _alert(context: dict) -> None:
    from onboarding import alerts, state
    from onboarding.config import ConfigError, load_cohorts
    from onboarding.emails import REF_HEADER
    from onboarding.delivery import Ledger, RetryPolicy, deliver_one, outbox_label

    ti = context["ti"]
    # A cohort task is mapped over plan()'s items: the item at its map index names the cohort.
    cohort_id = None
    if ti.task_id != "plan" and ti.map_index is not None and ti.map_index >= 0:
        items = ti.xcom_pull(task_ids="plan") or []
        if ti.map_index < len(items) and isinstance(items[ti.map_index], dict):
            cohort_id = items[ti.map_index].get("cohort_id")
    try:
        cohorts = load_cohorts()
    except ConfigError:
        cohorts = {}
    cohort = cohorts.get(cohort_id) if cohort_id else None
    exc = context.get("exception")
    failure = alerts.Failure(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index if ti.map_index is not None else -1,
        try_number=ti.try_number, max_tries=getattr(ti, "max_tries", None) or ti.try_number, log_url=ti.log_url,
        error=(f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc or "see the log")),
        failed_at=dt.datetime.now(dt.timezone.utc), cohort_id=cohort_id)
    to = alerts.recipients(_variable("onboarding_alert_to"), cohort.data_team if cohort else ())
    # The From of an alert must be the sending account: the cohort's sender (else the first's).
    fallback = cohort or next(iter(cohorts.values()), None)
    sender = _variable("onboarding_alert_from") or (fallback.sender if fallback else None)
    if not to or not sender:
        log.warning("failure alert for %s not sent: no %s (set the Airflow variable %s)", failure.key,
                    "recipient" if not to else "sender", "onboarding_alert_to" if not to else "onboarding_alert_from")
        return
    tz = cohort.tz if cohort else dt.timezone.utc
    msg = alerts.message(failure, sender, to, tz)
    engine = state_engine()
    key = failure.key
    with engine.begin() as conn:
        conn.execute(state.sql("ledger_plan"), {
            "email_key": key, "ref": msg[REF_HEADER], "cohort_id": cohort_id or alerts.ALERT_COHORT,
            "recipient": to[0], "recipient_name": "", "kind": "alert", "run_id": ti.run_id,
            "now": state.iso(state.utcnow())})
    factory = sender_factory(cohort.email_connection if cohort else "onboarding_email")()
    owner = f"{ti.run_id}/alert/{ti.task_id}/{failure.map_index}/try-{ti.try_number}"
    outcome = deliver_one(Ledger(engine, owner, ti.run_id), factory(), key,
                          lambda: (msg, outbox_label(cohort_id or "_alerts", "alert", to[0])),
                          RetryPolicy.for_limits(factory.limits))
    log.info("failure alert for %s to %s: %s %s", failure.task_label, ", ".join(to), outcome.status, outcome.detail)
