"""Stage 4, send: every email the run decided is due, through the ledger, exactly once."""
from __future__ import annotations

import logging
from typing import Any, Callable

from onboarding import logs
from onboarding import storage
from onboarding.addresses import without_addresses
from onboarding.cohorts import Cohort
from onboarding.decisions import REMINDER, journey_of
from onboarding.decisions.facts import classes_of
from onboarding.delivery.ledger import BatchItem, Ledger, Progress, deliver_batch
from onboarding.delivery.messages import Unsubscribe, customer_email as build_customer_email
from onboarding.delivery.senders import SenderFactory, outbox_label, safe_part
from onboarding.backoff import RetryPolicy
from onboarding.errors import DeliveryIncomplete, UnsafeMessage
from onboarding.pipeline.progress import record
from onboarding.run import RunContext
from onboarding.store import Store
from onboarding.times import clock

log = logging.getLogger(__name__)


def send(store: Store, cohort: Cohort, ctx: RunContext, email: Callable[[], SenderFactory],
         policy: RetryPolicy | None = None, unsubscribe_secret: str | None = None) -> dict[str, Any]:
    """Send every email this run decided is due, most urgent first (reminders, then cancellations,
    then welcomes; within each, those waiting longest). A dry run renders them into the run
    folder's ``preview`` instead and sends nothing. ``email`` makes the account's senders; it is
    called only when there is something to send. A marketing email says how to unsubscribe: a
    mail to the sender's ``+unsubscribe`` address, and a one-click link on the Onboarding page's
    server when the deployment has an address (``api.base_url``) and ``unsubscribe_secret``."""
    due = store.decisions.due(ctx.run_id, cohort.id)
    classes = classes_of(cohort, journey_of(cohort))
    journey_email = _journey_emails(store, cohort, ctx)

    def customer_email(cohort, kind, email_addr, name, ref, first_name, language=None):
        unsubscribe = _unsubscribe(cohort, ctx, classes.get(kind, "transactional"), email_addr, unsubscribe_secret)
        return journey_email(kind, email_addr, name, ref, first_name, unsubscribe, language)

    if ctx.dry_run:
        preview = ctx.folder(cohort.id) / "preview"
        for r in due:
            try:
                msg = customer_email(cohort, r["kind"], r["email"], r["name"], r["ref"],
                                     r.get("first_name"), r.get("language"))
            except UnsafeMessage as exc:
                log.warning("cohort %s: dry run: a %s would not be sent: %s", cohort.id, r["kind"],
                            without_addresses(exc))
                continue
            storage.write_bytes(preview / f"{safe_part(r['kind'])}__{safe_part(r['email'])}.eml", bytes(msg))
        log.info("cohort %s: dry run, %d email(s) rendered to %s, none sent", cohort.id, len(due), preview)
        _done(store, cohort, ctx)
        return {"would_send": len(due), "preview": storage.display(preview)}
    tally: dict[str, int] = {}
    now = clock()
    if now >= cohort.deadline_at and any(r["kind"] == REMINDER for r in due):
        # Decided in time but sent late (a send task retried for hours, a cleared old run): a
        # reminder is never sent after its deadline.
        late = [r["email_key"] for r in due if r["kind"] == REMINDER]
        tally["superseded"] = store.ledger.supersede(late, f"its deadline passed before it could be sent "
                                                           f"({now.astimezone(cohort.tz):%Y-%m-%d %H:%M %Z})")
        log.warning("cohort %s: %d reminder(s) not sent: the deadline has passed", cohort.id, len(late))
        due = [r for r in due if r["kind"] != REMINDER]
    due, suppressed = _not_suppressed(store, cohort, due, classes)
    if suppressed:
        tally["suppressed"] = suppressed
    if due:
        factory = email()
        items = []
        for r in due:
            def build(r=r):
                return (customer_email(cohort, r["kind"], r["email"], r["name"], r["ref"],
                                       r.get("first_name"), r.get("language")),
                        outbox_label(cohort.id, r["kind"].replace(":", "."), r["email"]))

            items.append(BatchItem(r["email_key"], build))
        outcomes = deliver_batch(Ledger(store, ctx.owner, ctx.run_id), factory, items, policy,
                                 progress=lambda p: _log_progress(cohort, ctx, p))
        for r, outcome in zip(due, outcomes):
            tally[outcome.status] = tally.get(outcome.status, 0) + 1
            if outcome.status in ("failed", "unconfirmed", "waiting"):
                # Whom is in the ledger; Airflow's task log (out of an erasure's reach) says what.
                log.warning("cohort %s: %s %s: %s", cohort.id, r["kind"], outcome.status,
                            without_addresses(outcome.detail))
        logs.event(log, logging.INFO, "cohort %s: delivery %s", cohort.id, tally,
                   **ctx.fields(cohort.id, stage="send", **{f"emails_{k}": v for k, v in tally.items()}))
        retry = [o for o in outcomes if o.status == "waiting" and not o.stopped]
        if retry:
            raise DeliveryIncomplete(f"cohort {cohort.id}: {len(retry)} email(s) still refused after "
                                     f"{factory.limits.attempts} attempts each (e.g. {retry[0].detail}); "
                                     f"they stay due and a retry sends them")
    _done(store, cohort, ctx)
    return tally or {"sent": 0}


def _journey_emails(store: Store, cohort: Cohort, ctx: RunContext):
    """Builds a cohort's emails, whatever its journey: the stage's templates in the customer's
    language (as the ledger entered the email), its due time as this run saw it, and the
    customer's CSM (the seed journey has neither: its run records no visits and places nobody)."""
    from types import SimpleNamespace

    from onboarding.times import from_iso

    due_at = {}
    for v in store.journeys.visits(ctx.run_id, cohort.id):  # in visit order: the last visit's due time stays
        due_at[(v["email"], v["stage"])] = v["due_at"]
    csms = {r["email"]: SimpleNamespace(name=r["csm_name"], email=r["csm_email"])
            for r in store.journeys.csm_assignments(cohort.id)}

    def build(kind: str, email_addr: str, name: str, ref: str, first_name: str | None, unsubscribe,
              language: str | None = None):
        when = due_at.get((email_addr, kind.rpartition(":")[0]))
        # A moment: the message writes it in the language of the variant it uses, in the cohort's zone.
        return build_customer_email(cohort, kind, email_addr, name, ref, first_name, unsubscribe,
                                    from_iso(when) if when else None, csms.get(email_addr), language)

    return build


def _unsubscribe(cohort: Cohort, ctx: RunContext, email_class: str, email_addr: str,
                 secret: str | None) -> Unsubscribe | None:
    """How the recipient of a marketing email unsubscribes (None for a transactional one)."""
    from urllib.parse import quote

    from onboarding.consent import unsubscribe_mailto, unsubscribe_token
    from onboarding.delivery.messages import parse_sender

    if email_class != "marketing":
        return None
    url = (f"{ctx.ui_url}/onboarding/unsubscribe?t={quote(unsubscribe_token(secret, cohort.id, email_addr))}"
           if ctx.ui_url and not ctx.ui_url_assumed and secret else None)  # a customer's link: only a configured address
    return Unsubscribe(unsubscribe_mailto(parse_sender(cohort.sender).addr_spec), url)


def _not_suppressed(store: Store, cohort: Cohort, due: list[dict[str, Any]],
                    classes: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The suppression list again at send time: an address suppressed since the run decided (a
    bounce read, an unsubscribe, a manual entry) is not sent to; its email leaves the ledger's
    queue with the reason."""
    from onboarding.decisions.suppression import stopping, with_cohort_file

    index = {e.address: e for e in with_cohort_file(store.suppressions.for_cohort(cohort.id), cohort.id,
                                                    cohort.suppress)}
    keep, stopped = [], {}
    for r in due:
        entry = stopping(r["email"], r["kind"], index, classes)
        if entry is not None:
            stopped.setdefault(entry.describe(), []).append(r["email_key"])
        else:
            keep.append(r)
    for why, keys in stopped.items():
        store.ledger.supersede(keys, f"suppressed after the run decided: {why}")
        log.warning("cohort %s: %d email(s) not sent: %s", cohort.id, len(keys), why)
    return keep, sum(len(k) for k in stopped.values())


def _log_progress(cohort: Cohort, ctx: RunContext, p: Progress) -> None:
    """A long send is never silent: sent, waiting, rate and time left, every half minute."""
    left = "" if p.seconds_left is None else f", about {p.seconds_left / 60:.0f} min left"
    logs.event(log, logging.INFO, "cohort %s: sending: %d of %d done (%s), %.0f a minute%s", cohort.id, p.done,
               p.total, ", ".join(f"{k} {v}" for k, v in sorted(p.counts.items())) or "none yet", p.per_minute, left,
               **ctx.fields(cohort.id, stage="send", done=p.done, total=p.total, per_minute=round(p.per_minute, 1),
                            **{f"emails_{k}": v for k, v in p.counts.items()}))


def _done(store: Store, cohort: Cohort, ctx: RunContext) -> None:
    """A run that decided moves on to 'sent'; a held or failed run keeps its status."""
    if store.runs.get(ctx.run_id, cohort.id).get("status") == "decided":
        record(store, cohort, ctx, "decided" if ctx.dry_run else "sent")
