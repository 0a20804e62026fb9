"""``mailbox_messages``: what the sender's mailbox told us (bounces, unsubscribe mails, and what
was ignored), each message recorded once, with what was done about it (see
``onboarding.delivery.feedback``); ``mailbox_cursors``: where each account's mailbox was last read
to (Gmail's historyId)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from onboarding.redaction import redact
from onboarding.times import from_iso, iso, utcnow


class MailboxTable:
    def __init__(self, store):
        self._s = store

    def record(self, account: str, message_id: str, received_at: dt.datetime, run_id: str, *, kind: str,
               address: str | None = None, ref: str | None = None, email_key: str | None = None,
               cohort_id: str | None = None, bounce: str | None = None, status_code: str | None = None,
               detail: str = "", action: str = "none") -> bool:
        """Record one message; False when it was recorded before (then nothing is to be done). A
        message about a person erased on request is recorded without their address or its text."""
        if address and self._s.erasures.erased(address, cohort_id or "*"):
            address, ref, detail = None, None, "about a person erased on request"
        return bool(self._s.execute("mailbox_record", {
            "account": account, "message_id": message_id, "kind": kind, "address": address, "ref": ref,
            "email_key": email_key, "cohort_id": cohort_id, "bounce": bounce, "status_code": status_code,
            "detail": redact(detail)[:1000] if detail else detail, "action": action,
            "received_at": iso(received_at), "run_id": run_id, "now": iso(utcnow())}))

    def known(self, account: str, since: dt.datetime) -> set[str]:
        return {r["message_id"] for r in self._s.rows("mailbox_known", account=account, since=iso(since))}

    def last_received(self, account: str) -> dt.datetime | None:
        value = self._s.scalar("mailbox_last_received", account=account)
        return from_iso(value) if value else None

    def cursor(self, account: str) -> str | None:
        """Gmail's historyId the account's mailbox was last read to; None before its first read."""
        value = self._s.scalar("mailbox_cursor", account=account)
        return str(value) if value else None

    def set_cursor(self, account: str, history_id: str, how: str, run_id: str) -> None:
        """After a complete read: the next one starts from ``history_id``."""
        self._s.execute("mailbox_cursor_upsert", {"account": account, "history_id": str(history_id), "how": how,
                                                  "run_id": run_id, "now": iso(utcnow())})

    def ignored_for_run(self, run_id: str) -> list[dict[str, Any]]:
        """What a run's mailbox read did not act on: ``detail`` (why) and ``n``, most first."""
        return self._s.rows("mailbox_ignored_for_run", run_id=run_id)

    def for_run(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """The bounces and unsubscribes a run read about a cohort's emails."""
        return self._s.rows("mailbox_for_run", run_id=run_id, cohort_id=cohort_id)
