"""Stage 3, decide: load -> decide -> guard -> persist.

The facts (reconciled customers, the cohort's ledger, the run's inputs and the previous run's
counts, and what the cohort's journey reads) are loaded from the state database;
``decisions.run.decide`` (the one decide path, every journey's) turns them into every decision of
the run; the decisions, the ledger plan and the superseded emails are written in one
transaction, so a retry of this stage rewrites them whole.
"""
from __future__ import annotations

import logging
from typing import Any

from onboarding import logs
from onboarding.cohorts import EXPORT_ROLES, Cohort
from onboarding.decisions.suppression import with_cohort_file
from onboarding.decisions import is_seed, journey_of
from onboarding.decisions.facts import RunFacts
from onboarding.decisions.run import Decisions, decide as decide_run, held_message
from onboarding.errors import DatasetError, ResendRefused
from onboarding.pipeline.progress import record
from onboarding.run import RunContext
from onboarding.store import Store
from onboarding.times import clock

log = logging.getLogger(__name__)


def load_facts(store: Store, cohort: Cohort, ctx: RunContext) -> RunFacts:
    """What the run decides on, as the state database holds it now: the reconciled customers,
    the cohort's ledger, the run's inputs and the previous run's counts, and what the cohort's
    journey reads beyond its completions (signup times, event rows, approvals, CSMs)."""
    import json

    run = store.runs.get(ctx.run_id, cohort.id)
    inputs = store.runs.inputs(ctx.run_id, cohort.id)
    counts = store.runs.counts(ctx.run_id, cohort.id)
    previous = store.runs.previous(cohort.id, ctx.run_id, run["started_at"]) if run else None
    before = json.loads(previous["counts"]) if previous and previous.get("counts") else None
    walked = {} if is_seed(journey_of(cohort)) else dict(
        signed_up=store.staging.first_signups(ctx.run_id, cohort.id, ctx.as_of),
        events=store.staging.events(ctx.run_id, cohort.id, ctx.as_of),
        approvals=store.journeys.approvals(cohort.id),
        assignments=store.journeys.csm_assignments(cohort.id),
        roster=roster(store, cohort, ctx.run_id),
        seen_events=store.staging.event_names(cohort.id, ctx.as_of))
    return RunFacts(
        customers=store.staging.reconcile(ctx.run_id, cohort.id, ctx.as_of),
        ledger=store.ledger.states(cohort.id),
        orphans=store.staging.orphans(ctx.run_id, cohort.id, ctx.as_of),
        completion_rows_staged=store.staging.completion_count(ctx.run_id, cohort.id),
        sources={r: inputs[r] for r in EXPORT_ROLES if r in inputs},
        counts=counts,
        counts_before=before,
        now=clock(),
        suppressions=_suppressions(store, cohort),
        refs=store.ledger.references(), **walked)


def with_resend(store: Store, cohort: Cohort, ctx: RunContext) -> RunContext:
    """The run's context with the instructor's resend read from the state database by the
    reference the trigger form gave (the address never travels through Airflow). A reference
    that names no request of this cohort (erased since, or another cohort's) stops the run."""
    if not ctx.resend_request:
        return ctx
    import dataclasses

    from onboarding.decisions import Resend

    found = store.resends.get(ctx.resend_request)
    if found is None or found["cohort_id"] != cohort.id:
        message = (f"resend_request {ctx.resend_request}: no such request for cohort {cohort.id} (ask for it on the "
                   "Onboarding page; an erasure removes its requests)")
        record(store, cohort, ctx, "failed", f"decide: {message}")
        raise ResendRefused(message)
    return dataclasses.replace(ctx, resend=Resend(found["email"], found["kind"], found["reason"]))


def _refused(ctx: RunContext, message: str) -> str:
    """A refusal as the task raises it (into Airflow's task log): the request's reference where
    the customer's address was."""
    return message.replace(ctx.resend.email, ctx.resend_request) if ctx.resend and ctx.resend_request else message


def _suppressions(store: Store, cohort: Cohort) -> tuple:
    """Who must not be emailed: the list's entries for the cohort and the cohort file's own."""
    return tuple(with_cohort_file(store.suppressions.for_cohort(cohort.id), cohort.id, cohort.suppress))


def decide(store: Store, cohort: Cohort, ctx: RunContext) -> dict[str, Any]:
    """Decide the run and record every decision, whatever the cohort's journey: the standings,
    the visits, who waits on whom, CSM placements and approval requests, all in one transaction.
    Due emails are entered in the ledger as pending (not in a dry run, nor when a guard holds the
    run); an email entered by an earlier run but never attempted, and no longer due, is superseded."""
    journey = journey_of(cohort)
    ctx = with_resend(store, cohort, ctx)
    superseded = 0
    with store.transaction() as tx:
        result = decide_run(cohort, journey, ctx, load_facts(tx, cohort, ctx))
        if not result.refusal:
            _write(tx, cohort, ctx, result)
            superseded = _enter(tx, cohort, ctx, result)
    if result.refusal:
        kind, message = result.refusal
        record(store, cohort, ctx, "failed", f"decide: {message}")
        raise (ResendRefused if kind == "resend" else DatasetError)(_refused(ctx, message))
    return _recorded(store, cohort, ctx, result, superseded,
                     cohort.id if is_seed(journey) else f"{cohort.id} (journey {journey.id})")


def roster(store: Store, cohort: Cohort, run_id: str) -> tuple:
    """The CSMs of a journey cohort's run: the roster its ``csms`` export gave that run, else the
    journey file's; a CSM erased (from the cohort or all) is no longer on it, wherever still listed."""
    from onboarding.journeys import Csm, staged_attributes

    if cohort.csms is None:
        listed = journey_of(cohort).csms
    else:
        listed = tuple(Csm(r["name"], r["email"], int(r["capacity"]), staged_attributes(r["attributes"]))
                       for r in store.staging.roster(run_id, cohort.id))
    # An erased CSM still listed in the journey file or the roster export is never placed again.
    return tuple(c for c in listed if not store.erasures.erased(c.email, cohort.id))


def _enter(tx: Store, cohort: Cohort, ctx: RunContext, result: Decisions) -> int:
    """Enter the run's due emails (and the instructor's resend) in the ledger as pending, unless
    the run may not send (a dry run, a guard's hold); returns how many earlier entries were
    superseded, first: the emails about to be entered are due, so never among them."""
    if not result.enter_ledger:
        return 0
    superseded = tx.ledger.supersede_not_due(ctx.run_id, cohort.id, result.supersede_reason)
    tx.ledger.plan_due(ctx.run_id, cohort.id)
    if result.resend:
        tx.ledger.plan([result.resend], ctx.run_id)
    return superseded


def _write(tx: Store, cohort: Cohort, ctx: RunContext, result: Decisions) -> None:
    """A run's decisions and orphans, visits, who waits on whom, CSM placements and approval
    requests (the seed journey has none of the last four: its rows are cleared all the same)."""
    tx.decisions.replace(ctx.run_id, cohort.id, result.statuses, result.orphans, result.decisions)
    tx.journeys.replace_visits(ctx.run_id, cohort.id, result.visits)
    tx.journeys.replace_waiting(ctx.run_id, cohort.id, result.waiting)
    if not ctx.dry_run:
        # Sticky once made: a placement is recorded even when a guard holds the emails.
        tx.journeys.assign_csms(cohort.id, ctx.run_id, result.assigned)
    tx.journeys.replace_requests(ctx.run_id, cohort.id, [] if ctx.dry_run else [
        {"stage": r.stage, "approver": r.approver, "subject": r.subject, "body": r.head, "options": r.options,
         "people": [w.email for w in r.people], "lines": r.lines} for r in result.requests])


def _recorded(store: Store, cohort: Cohort, ctx: RunContext, result: Decisions, superseded: int,
              label: str) -> dict[str, Any]:
    """Record the run's guards and its standing (held, or decided with its counts), and log it."""
    counts = {**result.counts, "superseded": superseded}
    store.runs.record_guards(ctx.run_id, cohort.id, [
        {"guard": t.guard, "message": t.message, "released": t not in result.held} for t in result.trips] or None)
    if result.held:
        message = held_message(result.held)
        record(store, cohort, ctx, "held", message, counts=counts)
        log.warning("cohort %s: %s", cohort.id, message)
        return counts
    record(store, cohort, ctx, "decided", counts=counts)
    logs.event(log, logging.INFO, "cohort %s as of %s: %s", label,
               f"{ctx.as_of.astimezone(cohort.tz):%a %d %b %Y %H:%M %Z}", counts,
               **ctx.fields(cohort.id, stage="decide", **{k: v for k, v in counts.items()
                                                          if isinstance(v, (int, float, str))}))
    return counts
