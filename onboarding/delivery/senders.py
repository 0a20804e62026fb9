"""Senders: the two backends that implement the same five calls the ledger needs (find a sent
copy, find a draft, check a draft, create a draft, send it): a local outbox folder of ``.eml``
files, and the Gmail API. A ``SenderFactory`` makes one sender per sending thread, all sharing
one account's pacing and limits."""
from __future__ import annotations

import base64
import datetime as dt
import os
import re
from email.message import EmailMessage
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Protocol

from onboarding.backoff import retry_after_seconds
from onboarding.delivery.messages import REF_HEADER
from onboarding.delivery.quota import GMAIL_COSTS, Limits, Pacer
from onboarding.errors import PermanentError, TransientError


# At most this many mailbox messages are read a night (the rest the next night): a flood of
# reports cannot stall the run.
INBOX_LIMIT = 2000


@dataclass(frozen=True)
class Incoming:
    """A message found in the sender's mailbox: its id there, its bytes, when it arrived (UTC)."""

    message_id: str
    raw: bytes
    received_at: dt.datetime


class Sender(Protocol):
    backend: str
    account: str  # whose quota and daily cap the sends count against
    pacer: Pacer

    def find_sent(self, ref: str) -> str | None: ...

    def find_draft(self, ref: str) -> str | None: ...

    def draft_exists(self, draft_id: str) -> bool: ...

    def create_draft(self, msg: EmailMessage, label: str) -> str: ...

    def send_draft(self, draft_id: str) -> str: ...

    def inbox(self, since: dt.datetime, unsubscribe_addresses: set[str], known: set[str],
              limit: int = INBOX_LIMIT) -> list[Incoming]: ...


_SAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


def safe_part(text: str) -> str:
    """A file-name part from any text: characters that could leave a folder (``/``, ``..``) or
    confuse a shell become ``_``; a name changed that way gets a short hash, so two addresses
    never share a file."""
    import hashlib

    safe = _SAFE.sub("_", text).strip(".") or "_"
    return safe if safe == text else f"{safe}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


class OutboxSender:
    """Writes each email as an .eml file: ``<root>/<cohort>/<kind>/<recipient>.<ref>.eml``.

    A draft is a file under ``<root>/.drafts`` at the same relative path; sending moves it into
    place atomically, so a file in the outbox is an email sent, whole, exactly once.
    """

    backend = "outbox"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.drafts = self.root / ".drafts"
        self.account = "outbox"
        self.pacer = Pacer(None)

    def find_sent(self, ref: str) -> str | None:
        found = sorted(self.root.glob(f"*/*/*.{ref}.eml"))
        return str(found[0].relative_to(self.root)) if found else None

    def find_draft(self, ref: str) -> str | None:
        found = sorted(self.drafts.glob(f"*/*/*.{ref}.eml")) if self.drafts.exists() else []
        return str(found[0].relative_to(self.drafts)) if found else None

    def draft_exists(self, draft_id: str) -> bool:
        return (self.drafts / draft_id).exists()

    def create_draft(self, msg: EmailMessage, label: str) -> str:
        draft_id = f"{label}.{msg[REF_HEADER]}.eml"
        path = self.drafts / draft_id
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(bytes(msg))
        os.replace(tmp, path)
        return draft_id

    def inbox(self, since: dt.datetime, unsubscribe_addresses: set[str], known: set[str],
              limit: int = INBOX_LIMIT) -> list[Incoming]:
        """The local mailbox: ``<root>/.inbox/*.eml`` (bounces and unsubscribe mails a test or the
        demo drops there), oldest first."""
        folder = self.root / ".inbox"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
            if path.name not in known and received >= since:
                found.append(Incoming(path.name, path.read_bytes(), received))
        return sorted(found, key=lambda m: m.received_at)[:limit]

    def send_draft(self, draft_id: str) -> str:
        dest = self.root / draft_id
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.drafts / draft_id, dest)
        except FileNotFoundError:
            raise TransientError(f"draft {draft_id} is gone") from None
        return draft_id


def outbox_factory(root: str | Path, concurrency: int = 1) -> "SenderFactory":
    """The local outbox: no quota, no daily cap."""
    return SenderFactory(lambda _pacer: OutboxSender(root), "outbox",
                         Limits(units_per_minute=0, daily_cap=10**9, concurrency=concurrency))


def outbox_label(cohort_id: str, kind: str, recipient: str) -> str:
    """Where an email goes in the outbox (and how Gmail's draft is labelled in logs): a relative
    path whose every part is a safe file name."""
    return "/".join(safe_part(p) for p in (cohort_id, kind, recipient))


class SenderFactory:
    """Makes a sender per sending thread (HTTP clients are not shared between threads), all
    sharing one pacer, for one account with its limits."""

    def __init__(self, make: Callable[[Pacer], Sender], account: str, limits: Limits):
        self.make, self.account, self.limits = make, account, limits
        self.pacer = Pacer(limits.units_per_minute)

    def __call__(self) -> Sender:
        return self.make(self.pacer)


# --- Gmail ---------------------------------------------------------------------------------------

_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded", "quotaExceeded"}


def _classify(exc: Exception) -> Exception:
    """Map a client error onto temporary, permanent, or fatal (returned as is)."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status = exc.resp.status
        reasons = {d.get("reason") for d in (exc.error_details or []) if isinstance(d, dict)}
        text = f"Gmail answered {status}: {exc.reason}"
        if status == 429 or (status == 403 and reasons & _RATE_REASONS):
            return TransientError(text, retry_after_seconds(exc.resp.get("retry-after"), str(exc.reason)))
        if status >= 500:
            return TransientError(text)
        if status == 400:
            return PermanentError(text)
        return exc
    if isinstance(exc, (TimeoutError, ConnectionError, OSError)):
        return TransientError(f"no clear answer from Gmail: {type(exc).__name__}: {exc}")
    import httplib2

    if isinstance(exc, httplib2.HttpLib2Error):
        return TransientError(f"no clear answer from Gmail: {type(exc).__name__}: {exc}")
    return exc


class GmailSender:
    """The Gmail API through google-api-python-client, acting as ``user_id``."""

    backend = "gmail"

    def __init__(self, service, user_id: str = "me", account: str = "gmail", pacer: Pacer | None = None):
        self.service = service
        self.user = user_id
        self.account = account
        self.pacer = pacer or Pacer(None)

    def _call(self, request, method: str):
        self.pacer.take(GMAIL_COSTS[method])
        try:
            return request.execute(num_retries=0)
        except Exception as exc:  # noqa: BLE001 - reclassified below
            mapped = _classify(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def find_sent(self, ref: str) -> str | None:
        res = self._call(self.service.users().messages().list(userId=self.user, q=f'in:sent "{ref}"', maxResults=1),
                         "messages.list")
        msgs = res.get("messages") or []
        return msgs[0]["id"] if msgs else None

    def find_draft(self, ref: str) -> str | None:
        res = self._call(self.service.users().drafts().list(userId=self.user, q=f'"{ref}"', maxResults=1),
                         "drafts.list")
        drafts = res.get("drafts") or []
        return drafts[0]["id"] if drafts else None

    def draft_exists(self, draft_id: str) -> bool:
        from googleapiclient.errors import HttpError

        self.pacer.take(GMAIL_COSTS["drafts.get"])
        try:
            self.service.users().drafts().get(userId=self.user, id=draft_id, format="minimal").execute()
            return True
        except HttpError as exc:
            if exc.resp.status == 404:
                return False
            raise _classify(exc) from exc

    def create_draft(self, msg: EmailMessage, label: str) -> str:
        raw = base64.urlsafe_b64encode(bytes(msg)).decode("ascii")
        res = self._call(self.service.users().drafts().create(userId=self.user, body={"message": {"raw": raw}}),
                         "drafts.create")
        return res["id"]

    def send_draft(self, draft_id: str) -> str:
        res = self._call(self.service.users().drafts().send(userId=self.user, body={"id": draft_id}), "drafts.send")
        return res["id"]

    def inbox(self, since: dt.datetime, unsubscribe_addresses: set[str], known: set[str],
              limit: int = INBOX_LIMIT) -> list[Incoming]:
        """Bounces (from the mailer daemon or a postmaster) and mails to the unsubscribe addresses
        that arrived since ``since``, searched with Gmail's query language and read raw; messages
        in ``known`` are not fetched again."""
        terms = ["from:mailer-daemon", "from:postmaster", *(f"to:{a}" for a in sorted(unsubscribe_addresses))]
        query = f"in:inbox after:{int(since.timestamp())} {{{' '.join(terms)}}}"
        ids: list[str] = []
        token = None
        while len(ids) < limit:
            res = self._call(self.service.users().messages().list(
                userId=self.user, q=query, maxResults=min(500, limit), pageToken=token), "messages.list")
            ids += [m["id"] for m in res.get("messages") or [] if m["id"] not in known]
            token = res.get("nextPageToken")
            if not token:
                break
        found = []
        for mid in ids[:limit]:
            res = self._call(self.service.users().messages().get(userId=self.user, id=mid, format="raw"),
                             "messages.get")
            raw = base64.urlsafe_b64decode(res["raw"] + "=" * (-len(res["raw"]) % 4))
            received = dt.datetime.fromtimestamp(int(res.get("internalDate", 0)) / 1000, dt.timezone.utc)
            found.append(Incoming(mid, raw, received))
        return sorted(found, key=lambda m: m.received_at)
