"""The one layer between Airflow and the onboarding package.

Each task of ``dags/onboarding_nightly.py`` hands its Airflow context here, once; this module reads
what it needs from it (the run, the try, the form's parameters), makes the task's clients from
Airflow connections (``Resources``), calls the stage, and maps the package's errors onto
Airflow's: a ``StopRun`` (bad data, a bad request, a held run) fails the task at once without
retrying; anything else fails it so Airflow retries.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from typing import Any, Mapping

log = logging.getLogger(__name__)


def _stop_on_bad_input(fn):
    """Bad data, a bad request or a held run will not get better by retrying: fail the task at
    once, with the message. Any error leaves with its secrets masked (``redaction.scrub_exception``):
    Airflow logs its traceback as it is."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from airflow.sdk.exceptions import AirflowFailException

        from onboarding import redaction
        from onboarding.errors import StopRun

        from onboarding.errors import ParamsError

        try:
            return fn(*args, **kwargs)
        except ParamsError as exc:
            # Her own request made no sense: one line saying why, first in the task's log, and no
            # chained traceback of our code under Airflow's (it would bury the reason).
            reason = redaction.redact(str(exc))
            log.error("%s%s", REFUSED, reason)
            raise AirflowFailException(f"{REFUSED}{reason}") from None
        except StopRun as exc:
            raise AirflowFailException(redaction.redact(str(exc))) from redaction.scrub_exception(exc)
        except Exception as exc:
            redaction.scrub_exception(exc)
            raise

    return wrapper


def _label(cohort_id: str) -> None:
    """Name the mapped task instance after its cohort: the DAG's ``map_index_template`` renders
    ``onboarding_cohort`` from the running task's context, so the grid shows "data-eng-2026-12"
    where it would show "0"."""
    try:
        from airflow.sdk import get_current_context

        get_current_context()[MAP_LABEL] = cohort_id
    except Exception:  # noqa: BLE001 - outside a running task (tests calling the adapter): no label
        pass


MAP_LABEL = "onboarding_cohort"
# How a run refused at its start says so (its one log line, the failure's message): the failure
# alert then goes to the cohort's instructor too, whose request it was.
REFUSED = "The run was refused, nothing was sent: "
# The Airflow variable signing one-click unsubscribe links (the Onboarding page checks them with it).
UNSUBSCRIBE_SECRET = "onboarding_unsubscribe_secret"
# An address in a text bound for Airflow's task log (which an erasure does not reach).
ADDRESS = re.compile(r"[^\s:'\"<>]+@[^\s:'\"<>]+")


def _resources():
    from onboarding.resources import Resources

    return Resources()


@_stop_on_bad_input
def plan(context: Mapping[str, Any], nightly_tz: str, nightly_time: dt.time) -> list[dict]:
    """The cohorts this run handles, each with the run's shared context. Bad params fail the run
    at once with the reason (a typo in the form must not send anything)."""
    from onboarding import run
    from onboarding.cohorts import read_cohort_file

    dag_run = context["dag_run"]
    # A run triggered from the UI may have no logical date: its moment is when it was asked for.
    logical = context.get("logical_date") or dag_run.run_after
    params = run.RunParams.parse(context.get("params"))
    found = read_cohort_file()
    from airflow.configuration import conf

    run_type = getattr(dag_run, "run_type", None)
    ui_url, assumed = run.ui_address(conf.get("api", "base_url", fallback=None), conf.get("api", "port", fallback=None))

    def resend_cohort(reference: str) -> str | None:
        found_request = _resources().store().resends.get(reference)
        return found_request["cohort_id"] if found_request else None

    ids, ctx = run.plan(found, params, context["run_id"], logical, dag_run.run_after or logical, nightly_tz,
                        nightly_time, run_type=str(getattr(run_type, "value", run_type) or "") or None,
                        triggered_by=getattr(dag_run, "triggering_user_name", None),
                        ui_url=ui_url, ui_url_assumed=assumed, resend_cohort=resend_cohort)
    for cid in ids:
        if cid in found.broken:
            # It fails alone, in its own tasks (and alerts the data team); the others run.
            log.error("cohort %s cannot run: %s", cid, found.broken[cid])
    from zoneinfo import ZoneInfo

    from onboarding import logs

    logs.event(log, logging.INFO, "run %s decides as of %s%s for cohorts %s; kinds %s%s", ctx.run_id,
               f"{ctx.as_of.astimezone(ZoneInfo(nightly_tz)):%a %d %b %Y %H:%M %Z}",
               " (dry run)" if ctx.dry_run else "", ids, list(ctx.kinds),
               f"; resend request {ctx.resend_request}" if ctx.resend_request else "",
               **ctx.fields(stage="plan", cohorts=",".join(ids), run_type=ctx.run_type or ""))
    return [{"cohort_id": cid, "ctx": ctx.to_dict()} for cid in ids]


def _unpack(item: dict, context: Mapping[str, Any] | None = None):
    """The item's cohort (read afresh, so a retry after the file was fixed runs) and the run's
    context for this try; a cohort whose configuration is broken raises its ``ConfigError``."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.errors import ConfigError
    from onboarding.run import RunContext

    ti = (context or {}).get("ti")
    ctx = RunContext.from_dict(item["ctx"]).with_try(getattr(ti, "try_number", None))
    cid = item["cohort_id"]
    _label(cid)
    found = read_cohort_file()
    if cid in found.cohorts:
        return found.cohorts[cid], ctx
    raise ConfigError(found.broken.get(cid) or f"cohort {cid!r} is no longer in {found.path}")


@_stop_on_bad_input
def extract(item: dict, context: Mapping[str, Any] | None = None) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item, context)
    res = _resources()
    return pipeline.extract(res.store(), cohort, ctx, res)


@_stop_on_bad_input
def validate(item: dict, context: Mapping[str, Any] | None = None) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item, context)
    return pipeline.validate(_resources().store(), cohort, ctx)


@_stop_on_bad_input
def decide(item: dict, context: Mapping[str, Any] | None = None) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item, context)
    return pipeline.decide(_resources().store(), cohort, ctx)


@_stop_on_bad_input
def send(item: dict, context: Mapping[str, Any] | None = None) -> dict:
    from onboarding import pipeline

    cohort, ctx = _unpack(item, context)
    res = _resources()
    return pipeline.send(res.store(), cohort, ctx, res.email(cohort.email_connection),
                         unsubscribe_secret=res.variable(UNSUBSCRIBE_SECRET))


@_stop_on_bad_input
def report(item: dict, context: Mapping[str, Any] | None = None) -> dict:
    """Send the instructor's summary; then fail the task if the cohort's run failed or was held."""
    from onboarding import pipeline
    from onboarding.errors import RunHeld, StopRun

    cohort, ctx = _unpack(item, context)
    res = _resources()
    result = pipeline.report(res.store(), cohort, ctx, res.email(cohort.email_connection), res.sheet_writer)
    if result.get("failure"):
        raise (RunHeld if result.get("held") else StopRun)(f"cohort {cohort.id}: {result['failure']}")
    return {k: v for k, v in result.items() if k not in ("failure", "held")}


@_stop_on_bad_input
def mailbox(items: list[dict], context: Mapping[str, Any] | None = None) -> dict:
    """Before the cohorts decide: read bounces and unsubscribe mails from the mailbox of every
    account the run's cohorts send from (a broken cohort is left to fail in its own tasks)."""
    from onboarding import pipeline
    from onboarding.cohorts import read_cohort_file
    from onboarding.run import RunContext
    from onboarding.times import clock

    if not items:
        return {}
    found = read_cohort_file()
    cohorts = [found.cohorts[i["cohort_id"]] for i in items if i["cohort_id"] in found.cohorts]
    res = _resources()
    return pipeline.read_mailbox(res.store(), cohorts, RunContext.from_dict(items[0]["ctx"]), res.email, clock())


def approval_requests(items: list[dict], context: Mapping[str, Any] | None = None) -> list[dict]:
    """After the cohorts decided: the approval requests their runs made, one task each."""
    if not items:
        return []
    from onboarding.run import RunContext

    ctx = RunContext.from_dict(items[0]["ctx"])
    wanted = {i["cohort_id"] for i in items}
    return [k for k in _request_keys(ctx.run_id) if k["cohort_id"] in wanted]


REQUEST_KEY = ("run_id", "cohort_id", "stage", "approver")


def _request_keys(run_id: str) -> list[dict]:
    """Each request of the run by its name only (XComs stay small), the approver a pseudonym:
    a CSM's address would otherwise stand in Airflow's XComs and grid, where her erasure cannot
    reach (docs/privacy.md)."""
    store = _resources().store()
    refs = store.ledger.references()
    return [_key(r, refs) for r in store.journeys.requests(run_id)]


def _key(request: Mapping[str, Any], refs: Any) -> dict:
    approver = request["approver"]
    # A team is named by its name (a journey's id-like name, never an address).
    named = approver if approver == "instructor" else f"team-{approver}" if "@" not in approver \
        else f"csm-{refs.pseudonym(approver)}"
    return {"run_id": request["run_id"], "cohort_id": request["cohort_id"], "stage": request["stage"],
            "approver": named}


def approval_requests_of(run_id: str) -> list[dict]:
    """The approval requests a nightly run made (its run id, from the approvals run's conf), one
    ``approve`` task each; none when the run made none or named no run."""
    return _request_keys(run_id) if run_id else []


def approval_request(key: Mapping[str, Any]) -> dict:
    """One approval request in full (subject, body, options, people, the run's moment), by its name
    (the approver's pseudonym; a key made before pseudonyms names the approver itself)."""
    store = _resources().store()
    refs = store.ledger.references()
    for r in store.journeys.requests(key["run_id"]):
        if all(r[k] == key[k] for k in REQUEST_KEY[:3]) and key["approver"] in (r["approver"], _key(r, refs)["approver"]):
            return r
    from onboarding.errors import StopRun

    raise StopRun(f"approval request {dict(key)} is no longer in the state database")


def approval_respondents(request: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """Who may answer a team's request: its members (by address, the login Airflow knows them
    by); None for the instructor's and a CSM's requests, answered as before by anyone the
    deployment lets answer them."""
    from onboarding.cohorts import read_cohort_file

    approver = request["approver"]
    if approver == "instructor" or "@" in approver:
        return None
    cohort = read_cohort_file().cohorts.get(request["cohort_id"])
    team = cohort.journey_spec.team(approver) if cohort else None
    if team is None:
        from onboarding.errors import StopRun

        raise StopRun(f"approval request of cohort {request['cohort_id']}: team {approver!r} is no longer in its journey")
    return [{"id": a, "name": a} for a in team.addresses]


def request_label(key: Mapping[str, Any]) -> str:
    """The request as the grid and the task log name it: cohort, stage, approver's pseudonym."""
    return f"{key['cohort_id']} · {key['stage']} · {key['approver']}"


def label_approval(key: Mapping[str, Any]) -> None:
    """Name the approval task instance by its cohort, stage and approver (pseudonym) in the grid."""
    _label(request_label(key))


def record_approvals(request: dict, answer: Mapping[str, Any], context: Mapping[str, Any] | None = None,
                     label: str = "") -> dict:
    """The approver's answer (the HITL operator's result) recorded as decisions with their
    author; an unanswered request (closed by its timeout) records nothing. ``label`` names the
    request in the task log (never the subject: it names the CSM). Problems with the
    answer (a line naming nobody waiting) are logged; what is clear is recorded."""
    from onboarding.decisions.approvals import Request, Waiting, approval_rows, decisions
    from onboarding.times import iso

    label = label or f"{request['cohort_id']} · {request['stage']}"
    who = answer.get("responded_by_user") or {}
    by = who.get("name") or who.get("id")
    if not by:
        log.info("approval request %s closed without an answer; its customers stay waiting", label)
        return {"recorded": 0, "answered": False}
    from onboarding.times import clock

    req = Request(request["cohort_id"], request["stage"], request["approver"], request["subject"], request["body"],
                  tuple(request["options"]), tuple(Waiting(e, "", None, None) for e in request["people"]))
    # Recorded as of when it is recorded (just after it was given; in the demo and the tests that
    # replay nights, the replayed night's clock), and always after the moment of the run that
    # asked: that run never decided on it (its replay neither); the next one acts on it.
    at = clock()
    if request.get("as_of"):
        import datetime as dt

        from onboarding.times import from_iso

        at = max(at, from_iso(str(request["as_of"])) + dt.timedelta(seconds=1))
    decided, problems = decisions(req, list(answer.get("chosen_options") or []), answer.get("params_input") or {},
                                  str(by), at)
    ti = (context or {}).get("ti")
    where = f"{request['run_id']}/{getattr(ti, 'task_id', 'approve')}/{getattr(ti, 'map_index', -1)}"
    store = _resources().store()
    n = store.journeys.record_approvals(request["cohort_id"], approval_rows(decided), request=where)
    store.journeys.answered(request["run_id"], request["cohort_id"], request["stage"], request["approver"], str(by),
                            iso(at))
    for p in problems:
        # The task log is Airflow's, out of an erasure's reach: the line says which, not whom.
        log.warning("approval request %s: %s (not recorded)", label, ADDRESS.sub("<address>", p))
    log.info("approval request %s answered by %s: %d approved, %d rejected", label, by,
             sum(d.approval.decision == "approved" for d in decided),
             sum(d.approval.decision == "rejected" for d in decided))
    # The return value is an XCom, kept in Airflow's database: counts only, no addresses.
    return {"recorded": n, "answered": True, "problems": len(problems)}



def housekeeping(context: Mapping[str, Any] | None = None) -> dict:
    """After every cohort's run: delete run folders past each cohort's retention (real time: a
    rerun of an old night must not keep old folders alive)."""
    from onboarding import paths, pipeline
    from onboarding.cohorts import read_cohort_file
    from onboarding.times import clock

    found = read_cohort_file()
    return pipeline.housekeep(_resources().store(), list(found.cohorts.values()), paths.runs_base(), clock())


def alert_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: email the data team once about a task that failed for good (see
    ``onboarding.reporting.alerts``). An alert that cannot be sent is logged; it never hides the
    failure."""
    try:
        _alert(context)
    except Exception as exc:  # noqa: BLE001 - the task has failed already; say why the alert did not go
        from onboarding.redaction import scrub_exception

        scrub_exception(exc)  # the alert's own send can fail with an error echoing the account's secrets
        log.exception("failure alert not sent")


def _alert(context: Mapping[str, Any]) -> None:
    from onboarding.cohorts import read_cohort_file
    from onboarding.errors import ConfigError
    from onboarding.redaction import redact
    from onboarding.reporting import alerts

    ti = context["ti"]
    # A cohort task is mapped over plan()'s items: the item at its map index names the cohort.
    cohort_id = None
    if ti.task_id != "plan" and ti.map_index is not None and ti.map_index >= 0:
        items = ti.xcom_pull(task_ids="plan") or []
        if ti.map_index < len(items) and isinstance(items[ti.map_index], dict):
            cohort_id = items[ti.map_index].get("cohort_id")
    try:
        found = read_cohort_file()
    except ConfigError:
        found = None
    exc = context.get("exception")
    refused = ti.task_id == "plan" and str(exc or "").startswith(REFUSED)
    if refused:
        cohort_id = _refused_cohort(context.get("params") or {}, found)
    failure = alerts.Failure(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
        map_index=ti.map_index if ti.map_index is not None else -1, try_number=ti.try_number,
        max_tries=getattr(ti, "max_tries", None) or ti.try_number, log_url=ti.log_url,
        error=redact(str(exc)[len(REFUSED):] if refused else f"{type(exc).__name__}: {exc}"
                     if isinstance(exc, BaseException) else str(exc or "see the log")),
        failed_at=dt.datetime.now(dt.timezone.utc), cohort_id=cohort_id, refused=refused)
    res = _resources()
    alerts.deliver(failure, found.cohorts.get(cohort_id) if found else None,
                   found.sender_for(cohort_id) if found else (None, None), res.variable("onboarding_alert_to"),
                   res.variable("onboarding_alert_from"), res.store, res.email)


def _refused_cohort(params: Mapping[str, Any], found) -> str | None:
    """The cohort a refused run was asked for: the form's Cohort, else the one its resend reference
    names (None for all cohorts: the data team alone hears of it)."""
    cohort = params.get("cohort")
    if found is not None and cohort in found.cohorts:
        return cohort
    reference = str(params.get("resend_request") or "").strip().lower()
    request = _resources().store().resends.get(reference) if reference else None
    return request["cohort_id"] if request and found is not None and request["cohort_id"] in found.cohorts else None
