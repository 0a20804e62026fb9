"""The email ledger: one row per email that may ever be sent, keyed so that each is sent at most
once, and an event for every transition (``ledger_events``), for the audit trail.

An email moves pending -> claimed -> drafted -> sent, or ends failed (refused for good),
unconfirmed (may have gone out, not provable: never resent automatically) or superseded (no
longer due before it was attempted). A sent email that came back is bounced (hard or soft). See ``onboarding.delivery.ledger`` for how it is used.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from onboarding.identity import IDENTITY_DEFAULTS, EmailId, References
from onboarding.redaction import redact
from onboarding.times import iso, sent_clock, utcnow

if TYPE_CHECKING:
    import pandas as pd


class LedgerTable:
    def __init__(self, store):
        self._s = store

    def plan(self, entries: list[dict[str, Any]], run_id: str) -> int:
        """Record that emails are due: each entry an identity's columns (``EmailId.columns``), ``ref``,
        ``recipient_name`` and, for a resend asked for by hand, ``reason``. An email already in the
        ledger (the same identity) keeps its row: whatever happened to that email before stands. An
        email to a person erased from its cohort (or from everything) is not entered."""
        now = iso(utcnow())
        return self._s.execute("ledger_plan", [
            {"reason": None, **IDENTITY_DEFAULTS, **e, "run_id": run_id, "now": now} for e in entries
            if not self._s.erasures.erased(e["recipient"], e["cohort_id"])])

    def plan_one(self, email: EmailId, run_id: str, refs: References, recipient_name: str = "") -> dict[str, Any]:
        """Enter one email (unless the ledger has it) and return its row: its key and reference
        are the stored ones, made when it was first entered. None: its recipient was erased."""
        self.plan([{**email.columns(), "ref": refs(email), "recipient_name": recipient_name}], run_id)
        return self.of(email)

    def of(self, email: EmailId) -> dict[str, Any] | None:
        """The ledger's row for an email, by its identity: key, ref, status."""
        c = email.columns()
        del c["email_key"]
        return (self._s.rows("ledger_of", **c) or [None])[0]

    def references(self) -> References:
        """This deployment's reference maker; its secret is made on first use and kept in the
        state database (like the erasure salt), so references stay the same across restarts."""
        found = self._s.scalar("reference_secret")
        if not found:
            self._s.execute("reference_secret_create", {"secret": secrets.token_hex(32)})
            found = self._s.scalar("reference_secret")
        return References(found)

    def plan_due(self, run_id: str, cohort_id: str) -> int:
        """Enter every email the run's decisions say is due, in one statement (see ledger_plan_due.sql).
        Nobody erased is among them: a run's rows leave out everyone erased before it read its
        exports (``pipeline.erasure.leave_out_erased``), and an erasure deletes the rows of runs
        under way."""
        return self._s.execute("ledger_plan_due", {"run_id": run_id, "cohort_id": cohort_id, "now": iso(utcnow())})

    def supersede_not_due(self, run_id: str, cohort_id: str, reason: str) -> int:
        """Emails entered earlier, never attempted, and not due at this run: they will not be sent."""
        return self._s.execute("ledger_supersede_not_due", {"run_id": run_id, "cohort_id": cohort_id,
                                                            "reason": reason, "now": iso(utcnow())})

    def states(self, cohort_id: str) -> "pd.DataFrame":
        """Where the ledger stands on each email of a cohort: its identity's columns, status, bounce."""
        return self._s.frame("ledger_states", cohort_id=cohort_id)

    def get(self, key: str) -> dict[str, Any] | None:
        return (self._s.rows("ledger_get", email_key=key) or [None])[0]

    def supersede(self, keys: list[str], reason: str) -> int:
        """Emails decided earlier but never attempted, no longer due: they will not be sent."""
        now = iso(utcnow())
        return self._s.execute("ledger_supersede", [{"email_key": k, "now": now, "reason": reason} for k in keys])

    def note(self, notes: dict[str, str]) -> None:
        """Say why emails still due were not attempted (daily cap reached, throttled)."""
        now = iso(utcnow())
        self._s.execute("ledger_note", [{"email_key": k, "note": redact(n), "now": now} for k, n in notes.items()])

    def by_ref(self, ref: str) -> dict[str, Any] | None:
        """The email an email's reference names (a bounce or an unsubscribe mail quotes it)."""
        return (self._s.rows("ledger_by_ref", ref=ref) or [None])[0]

    def bounced(self, key: str, run_id: str, bounce: str, detail: str) -> int:
        """The email came back (hard or soft), with the reason the provider gave."""
        now = iso(utcnow())
        with self._s.transaction() as tx:
            n = tx.execute("ledger_mark_bounced", {"email_key": key, "bounce": bounce, "error": redact(detail),
                                                   "now": now})
            if n:
                tx.execute("ledger_event", {"email_key": key, "at": now, "event": f"bounced_{bounce}",
                                            "run_id": run_id, "detail": redact(detail)})
        return n

    def sent_since(self, account: str, since: dt.datetime) -> int:
        """Emails an account sent (or may have sent) since a moment: what counts against its cap."""
        return self._s.scalar("ledger_sent_since", account=account, since=iso(since))

    # Transitions of one email, each with its event, committed together.
    def transition(self, name: str, event: str, key: str, owner: str, run_id: str, detail: str | None = None,
                   **params: Any) -> int:
        # Error texts may echo a request: no secret is ever stored (onboarding.redaction).
        detail = redact(detail)
        if "error" in params:
            params["error"] = redact(params["error"])
        now = iso(utcnow())
        with self._s.transaction() as tx:
            n = tx.execute(name, {"email_key": key, "owner": owner, "now": now, "run_id": run_id, **params})
            if n:
                tx.execute("ledger_event", {"email_key": key, "at": now, "event": event, "run_id": run_id,
                                            "detail": detail})
        return n

    def claim(self, key: str, owner: str, run_id: str, backend: str, lease_seconds: int) -> dict[str, Any] | None:
        """Take an email for sending, atomically; ``None`` when another worker has it, or it is done."""
        lease = iso(utcnow() + dt.timedelta(seconds=lease_seconds))
        if not self.transition("ledger_claim", "claimed", key, owner, run_id, owner, lease_until=lease,
                               backend=backend):
            return None
        return self.get(key)

    def drafted(self, key: str, owner: str, run_id: str, draft_id: str) -> None:
        self.transition("ledger_mark_drafted", "drafted", key, owner, run_id, draft_id, draft_id=draft_id)

    def sent(self, key: str, owner: str, run_id: str, message_id: str | None, how: str = "sent") -> None:
        self.transition("ledger_mark_sent", how, key, owner, run_id, message_id, message_id=message_id,
                        sent_at=iso(sent_clock()))

    def final(self, key: str, owner: str, run_id: str, status: str, error: str) -> None:
        self.transition("ledger_mark_final", status, key, owner, run_id, error, status=status, error=error)

    def release(self, key: str, owner: str, run_id: str, error: str) -> None:
        self.transition("ledger_release", "released", key, owner, run_id, error, error=error)

    # The same transitions for a batch of emails (the local outbox sends a chunk at a time): one
    # transaction per step for all of them instead of one per email; each email's row and event
    # exactly as its own ``transition`` writes them.
    def transitions(self, name: str, event: str, changes: list[dict[str, Any]], owner: str, run_id: str,
                    tx=None) -> list[str]:
        """``transition`` for several emails in one transaction (``tx``'s, when given): each change
        an ``email_key``, its event's ``detail`` and the statement's parameters. The keys whose row
        changed."""
        if tx is None:
            with self._s.transaction() as tx:
                return self.transitions(name, event, changes, owner, run_id, tx)
        now = iso(utcnow())
        params = [{**c, "owner": owner, "now": now, "run_id": run_id} for c in changes]
        for p in params:
            p["detail"] = redact(p.get("detail"))
            if "error" in p:
                p["error"] = redact(p["error"])
        changed = [p for p, n in zip(params, tx.each(name, params)) if n]
        tx.execute("ledger_event", [{"email_key": p["email_key"], "at": now, "event": event, "run_id": run_id,
                                     "detail": p["detail"]} for p in changed])
        return [p["email_key"] for p in changed]

    def claim_many(self, keys: list[str], owner: str, run_id: str, backend: str,
                   lease_seconds: int) -> dict[str, dict[str, Any]]:
        """``claim`` for several emails at once: the rows taken, by key (one that another worker
        has, or that is done, is not among them)."""
        lease = iso(utcnow() + dt.timedelta(seconds=lease_seconds))
        with self._s.transaction() as tx:
            taken = self.transitions("ledger_claim", "claimed", [
                {"email_key": k, "detail": owner, "lease_until": lease, "backend": backend} for k in keys],
                owner, run_id, tx)
            return {k: r for k, r in zip(taken, tx.lookup("ledger_get", [{"email_key": k} for k in taken]))}

    def drafted_many(self, drafts: dict[str, str], owner: str, run_id: str) -> None:
        """``drafted`` for several emails: their draft ids, by key."""
        self.transitions("ledger_mark_drafted", "drafted", [{"email_key": k, "detail": d, "draft_id": d}
                                                            for k, d in drafts.items()], owner, run_id)

    def sent_many(self, sent: dict[str, str | None], owner: str, run_id: str) -> None:
        """``sent`` for several emails: the provider's message ids, by key."""
        at = iso(sent_clock())
        self.transitions("ledger_mark_sent", "sent", [{"email_key": k, "detail": m, "message_id": m, "sent_at": at}
                                                      for k, m in sent.items()], owner, run_id)
