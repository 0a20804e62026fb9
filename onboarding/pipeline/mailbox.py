"""Before the cohorts decide: read what came back to each sending account's mailbox since the last
read (bounces, unsubscribe mails; see ``onboarding.delivery.feedback``) and act on each message
once: a bounced email is marked ``bounced`` in the ledger, a hard-bounced address and an
unsubscribed one go on the suppression list (for every cohort), and a soft bounce is left for
the decide stage to send again once. Every message read is recorded, an ignored one with why."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

from onboarding import logs, redaction
from onboarding.cohorts import Cohort
from onboarding.consent import unsubscribe_mailto
from onboarding.delivery import feedback
from onboarding.delivery.messages import parse_sender
from onboarding.delivery.senders import Incoming, SenderFactory
from onboarding.run import RunContext
from onboarding.store import Store

log = logging.getLogger(__name__)

# The first read of an account looks this far back; later reads start a little before the newest
# message recorded (a message may arrive with an older date), and skip those already recorded.
FIRST_LOOK_BACK = dt.timedelta(days=30)
OVERLAP = dt.timedelta(days=2)


def read_mailbox(store: Store, cohorts: list[Cohort], ctx: RunContext,
                 email: Callable[[str], Callable[[], SenderFactory]], now: dt.datetime) -> dict[str, Any]:
    """Read every sending account's mailbox once (cohorts sharing an account share its read)."""
    by_account: dict[str, list[Cohort]] = {}
    for c in cohorts:
        by_account.setdefault(c.email_connection, []).append(c)
    tally: dict[str, int] = {}
    for conn_id, group in by_account.items():
        try:
            factory = email(conn_id)()
            addresses = {unsubscribe_mailto(parse_sender(c.sender).addr_spec) for c in group}
            last = store.mailbox.last_received(factory.account)
            since = last - OVERLAP if last else now - FIRST_LOOK_BACK
            incoming = factory().inbox(since, addresses, store.mailbox.known(factory.account, since))
        except Exception as exc:  # noqa: BLE001 - one account's mailbox must not stop every cohort
            # The cohorts still run (a bounce unread tonight is read tomorrow: the read starts where
            # the last one ended); a connection that is missing fails the cohort's own send task.
            log.error("mailbox of %s not read tonight: %s: %s", conn_id, type(exc).__name__, redaction.redact(str(exc)))
            tally["accounts_unread"] = tally.get("accounts_unread", 0) + 1
            continue
        for message in incoming:
            outcome = _act(store, factory.account, message, addresses, ctx.run_id)
            if outcome:
                tally[outcome] = tally.get(outcome, 0) + 1
    logs.event(log, logging.INFO, "mailbox read: %s", tally or "nothing new",
               **ctx.fields(stage="mailbox", **{f"mailbox_{k}": v for k, v in tally.items()}))
    return tally


def _act(store: Store, account: str, message: Incoming, addresses: set[str], run_id: str) -> str | None:
    """Record one message and do what it calls for, together; None when it was recorded before."""
    fb = feedback.read(message.raw, addresses)
    entry = next((e for e in map(store.ledger.by_ref, fb.refs) if e is not None), None)
    known = fb.kind == "unsubscribe" and entry is None and bool(fb.address) and store.ledger.emailed(fb.address)
    eff = feedback.effect(fb, entry, known)
    acted = eff.kind != "ignored"
    with store.transaction() as tx:
        if not tx.mailbox.record(account, message.message_id, message.received_at, run_id, kind=eff.kind,
                                 address=fb.address if acted else None, ref=entry["ref"] if acted and entry else None,
                                 email_key=eff.email_key, cohort_id=eff.cohort_id,
                                 bounce=fb.bounce if eff.kind == "bounce" else None,
                                 status_code=fb.status_code if acted else None, detail=eff.detail,
                                 action={"suppress": "suppressed", "retry": "retry once",
                                         "unsubscribe": "unsubscribed"}.get(eff.action, "none")):
            return None
        if eff.kind == "bounce":
            tx.ledger.bounced(eff.email_key, run_id, fb.bounce, fb.detail)
        if eff.action == "suppress":
            tx.suppressions.add(fb.address, "hard_bounce", "bounce", note=fb.detail[:300])
        elif eff.action == "unsubscribe":
            tx.suppressions.add(fb.address, "unsubscribed", "unsubscribe mail", note=f"mailbox message {message.message_id}")
    if not acted:
        log.info("mailbox message %s ignored: %s", message.message_id, eff.detail)
        return "ignored"
    log.info("mailbox: %s from %s (%s): %s", eff.kind, fb.address, eff.action, eff.detail)
    return f"{eff.kind}_{fb.bounce}" if eff.kind == "bounce" else eff.kind
