"""Before the cohorts decide: read what came back to each sending account's mailbox since the last
read (bounces, unsubscribe mails; see ``onboarding.delivery.feedback``) and act on each message
once: a bounced email is marked ``bounced`` in the ledger, a hard-bounced address goes on the
suppression list (for every cohort), an unsubscribed one for its email's cohort, and a soft
bounce is left for the decide stage to send again once. Every message read is recorded, an
ignored one with why (no address kept); the night's tally counts the ignored by reason.

The read is incremental (Gmail's history since the ``historyId`` stored after the last complete
read), so a flood of mail cannot push a bounce out of reach; the first read of an account, or one
whose history Gmail no longer keeps, lists the look-back window instead."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

from onboarding import logs
from onboarding.addresses import without_addresses
from onboarding.cohorts import Cohort
from onboarding.consent import unsubscribe_mailto
from onboarding.delivery import feedback
from onboarding.delivery.messages import parse_sender
from onboarding.delivery.senders import Incoming, MailboxSearch, Sender, SenderFactory
from onboarding.run import RunContext
from onboarding.store import Store

log = logging.getLogger(__name__)

# A listing (the first read of an account, or after Gmail dropped its history) looks this far back.
FIRST_LOOK_BACK = dt.timedelta(days=30)


def read_mailbox(store: Store, cohorts: list[Cohort], ctx: RunContext,
                 email: Callable[[str], Callable[[], SenderFactory]], now: dt.datetime) -> dict[str, Any]:
    """Read every sending account's mailbox once (cohorts sharing an account share its read).
    Returns the tally: what was acted on by kind, ``ignored`` with ``ignored_because`` (reason ->
    count), ``accounts_unread``."""
    by_account: dict[str, list[Cohort]] = {}
    for c in cohorts:
        by_account.setdefault(c.email_connection, []).append(c)
    tally: dict[str, Any] = {}
    for conn_id, group in by_account.items():
        try:
            factory = email(conn_id)()
            senders = [parse_sender(c.sender) for c in group]
            addresses = {unsubscribe_mailto(a.addr_spec) for a in senders}
            systems = feedback.mail_system_senders(a.domain for a in senders)
            since = now - FIRST_LOOK_BACK
            sender = factory()
            found = sender.inbox(store.mailbox.cursor(factory.account),
                                 MailboxSearch(systems, frozenset(addresses), since),
                                 store.mailbox.known(factory.account, since))
            for message in found.messages:
                outcome = _act(store, sender, factory.account, message, addresses, systems, ctx.run_id)
                if outcome is None:
                    continue
                kind, why = outcome
                tally[kind] = tally.get(kind, 0) + 1
                if why:
                    because = tally.setdefault("ignored_because", {})
                    because[why] = because.get(why, 0) + 1
            if found.cursor:
                # Only after every message is recorded: a read cut short starts again from the old
                # id tomorrow (what it recorded is not acted on twice).
                store.mailbox.set_cursor(factory.account, found.cursor, found.how, ctx.run_id)
            if found.how != "history":
                log.info("mailbox of %s read by %s (%d message(s) since %s)", conn_id, found.how,
                         len(found.messages), since.date())
        except Exception as exc:  # noqa: BLE001 - one account's mailbox must not stop every cohort
            # The cohorts still run (a bounce unread tonight is read tomorrow: the read starts where
            # the last complete one ended); a connection that is missing fails the cohort's own send task.
            log.error("mailbox of %s not read tonight: %s: %s", conn_id, type(exc).__name__, exc)
            tally["accounts_unread"] = tally.get("accounts_unread", 0) + 1
            continue
    flat = {f"mailbox_{k}": v for k, v in tally.items() if isinstance(v, int)}
    logs.event(log, logging.INFO, "mailbox read: %s", tally or "nothing new", **ctx.fields(stage="mailbox", **flat))
    return tally


def _act(store: Store, sender: Sender, account: str, message: Incoming, addresses: set[str],
         systems: frozenset[str], run_id: str) -> tuple[str, str | None] | None:
    """Record one message and do what it calls for, together: (what it was, why it was ignored);
    None when it was recorded before or is gone."""
    why = feedback.screen(message.headers, addresses, systems, message.size)
    if why is not None:
        fb = feedback.Feedback("ignored", detail=why)  # junk: its bytes are never fetched
    else:
        raw = message.raw if message.raw is not None else sender.raw(message.message_id)
        if raw is None:
            return None
        fb = feedback.read(raw, addresses, systems)
    entry = feedback.answered(fb, [e for e in map(store.ledger.by_ref, fb.refs) if e is not None])
    eff = feedback.effect(fb, entry)
    if eff.kind != "ignored" and store.erasures.erased(fb.address, eff.cohort_id or "*"):
        # An old email's bounce or a late unsubscribe of a person erased on request: nothing about
        # them is written back, not even the address the message names.
        eff = feedback.Effect("ignored", None, None, "none", "about a person erased on request")
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
            # That cohort's marketing emails, as its one-click link does: the reference proves the
            # mail answers an email of that cohort, not a wish about every course.
            tx.suppressions.add(fb.address, "unsubscribed", "unsubscribe mail", eff.cohort_id,
                                note=f"mailbox message {message.message_id}")
    if not acted:
        log.info("mailbox message %s ignored: %s", message.message_id, without_addresses(eff.detail))
        return "ignored", eff.detail
    log.info("mailbox: %s (%s): %s", eff.kind, eff.action, without_addresses(eff.detail))
    return (f"{eff.kind}_{fb.bounce}" if eff.kind == "bounce" else eff.kind), None
