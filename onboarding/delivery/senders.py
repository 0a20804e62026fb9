"""Senders: the two backends that implement the same five calls the ledger needs (find a sent
copy, find a draft, check a draft, create a draft, send it): a local outbox folder of ``.eml``
files, and the Gmail API. A ``SenderFactory`` makes one sender per sending thread, all sharing
one account's pacing and limits."""
from __future__ import annotations

import base64
import datetime as dt
import os
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Protocol

from onboarding.backoff import retry_after_seconds
from onboarding.delivery.feedback import SCREEN_HEADERS
from onboarding.delivery.messages import REF_HEADER, Message
from onboarding.delivery.quota import GMAIL_COSTS, Limits, Pacer
from onboarding.errors import PermanentError, TransientError


@dataclass(frozen=True)
class Incoming:
    """A message found in the sender's mailbox: its id there, when it arrived (UTC), the headers
    that say whether it is worth reading (``feedback.SCREEN_HEADERS``), its size, and its bytes
    when already at hand (else the sender's ``raw`` fetches them)."""

    message_id: str
    received_at: dt.datetime
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0
    raw: bytes | None = None


@dataclass(frozen=True)
class MailboxSearch:
    """What a listing of the mailbox asks for: bounces from these mail systems' senders, mails to
    these unsubscribe addresses, arrived since ``since``."""

    mail_systems: frozenset[str]
    unsubscribe_addresses: frozenset[str]
    since: dt.datetime

    def gmail_query(self) -> str:
        """Gmail's search for it: the real senders by full address (a bare ``from:mailer-daemon``
        would match anyone's ``mailer-daemon@`` too)."""
        terms = [*(f"from:{a}" for a in sorted(self.mail_systems)), *(f"to:{a}" for a in sorted(self.unsubscribe_addresses))]
        return f"in:inbox after:{int(self.since.timestamp())} {{{' '.join(terms)}}}"


@dataclass(frozen=True)
class InboxRead:
    """What a read of the mailbox found (oldest first), where the next read starts (Gmail's
    ``historyId``; None for a mailbox without one), and how it read: ``history`` (everything
    added since the last read), ``listing`` (the first read: a search over the look-back window)
    or ``listing (history expired)``."""

    messages: list[Incoming]
    cursor: str | None
    how: str


class Sender(Protocol):
    backend: str
    account: str  # whose quota and daily cap the sends count against
    pacer: Pacer

    def find_sent(self, ref: str) -> str | None: ...

    def find_draft(self, ref: str) -> str | None: ...

    def draft_exists(self, draft_id: str) -> bool: ...

    def create_draft(self, msg: Message, label: str) -> str: ...

    def send_draft(self, draft_id: str) -> str: ...

    def inbox(self, cursor: str | None, search: MailboxSearch, known: set[str]) -> InboxRead: ...

    def raw(self, message_id: str) -> bytes | None: ...


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
        self._root, self._drafts = str(self.root), str(self.drafts)
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

    def create_draft(self, msg: Message, label: str) -> str:
        draft_id = f"{label}.{msg[REF_HEADER]}.eml"
        # Paths as text: once per email, pathlib's parsing cost more than the write's own Python.
        folder, name = os.path.split(os.path.join(self._drafts, draft_id))
        tmp = os.path.join(folder, f".{name}.part")
        data = bytes(msg)
        try:
            _write(tmp, data)
        except FileNotFoundError:  # the folder is made when first needed, not checked for every email
            os.makedirs(folder, exist_ok=True)
            _write(tmp, data)
        os.replace(tmp, os.path.join(folder, name))
        return draft_id

    def inbox(self, cursor: str | None, search: MailboxSearch, known: set[str]) -> InboxRead:
        """The local mailbox: ``<root>/.inbox/*.eml`` (bounces and unsubscribe mails a test or the
        demo drops there) arrived since ``search.since``, every one, oldest first; it has no
        history, so each read lists the look-back window and skips what is ``known``."""
        import email
        import email.policy

        folder = self.root / ".inbox"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
            if path.name not in known and received >= search.since:
                raw = path.read_bytes()
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                headers = {h: ", ".join(str(v) for v in msg.get_all(h, [])) for h in SCREEN_HEADERS}
                found.append(Incoming(path.name, received, headers, len(raw), raw))
        return InboxRead(sorted(found, key=lambda m: m.received_at), None, "listing")

    def raw(self, message_id: str) -> bytes | None:
        path = self.root / ".inbox" / message_id
        return path.read_bytes() if path.is_file() else None

    def send_draft(self, draft_id: str) -> str:
        try:
            os.replace(os.path.join(self._drafts, draft_id), os.path.join(self._root, draft_id))
        except FileNotFoundError:
            dest = self.root / draft_id
            if not (self.drafts / draft_id).exists():
                raise TransientError(f"draft {draft_id} is gone") from None
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.drafts / draft_id, dest)
        return draft_id


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def outbox_factory(root: str | Path, concurrency: int = 1) -> "SenderFactory":
    """The local outbox: no quota, no daily cap."""
    return SenderFactory(lambda _pacer: OutboxSender(root), "outbox",
                         Limits(units_per_minute=0, daily_cap=10**9, concurrency=concurrency), batch=OUTBOX_BATCH)


# Emails the outbox takes a chunk at a time (``ledger.deliver_chunk``): a file each, the ledger
# written once per step for the chunk. Gmail sends one at a time: its pacing, not our writes,
# sets its pace.
OUTBOX_BATCH = 200


def outbox_label(cohort_id: str, kind: str, recipient: str) -> str:
    """Where an email goes in the outbox (and how Gmail's draft is labelled in logs): a relative
    path whose every part is a safe file name."""
    return "/".join(safe_part(p) for p in (cohort_id, kind, recipient))


class SenderFactory:
    """Makes a sender per sending thread (HTTP clients are not shared between threads), all
    sharing one pacer, for one account with its limits."""

    def __init__(self, make: Callable[[Pacer], Sender], account: str, limits: Limits, batch: int = 1):
        self.make, self.account, self.limits, self.batch = make, account, limits, batch
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

    def create_draft(self, msg: Message, label: str) -> str:
        raw = base64.urlsafe_b64encode(bytes(msg)).decode("ascii")
        res = self._call(self.service.users().drafts().create(userId=self.user, body={"message": {"raw": raw}}),
                         "drafts.create")
        return res["id"]

    def send_draft(self, draft_id: str) -> str:
        res = self._call(self.service.users().drafts().send(userId=self.user, body={"id": draft_id}), "drafts.send")
        return res["id"]

    def inbox(self, cursor: str | None, search: MailboxSearch, known: set[str]) -> InboxRead:
        """Everything added to the inbox since ``cursor`` (a ``historyId``), through
        ``users.history.list`` paged to the end: nothing is skipped however many arrive. Without a
        cursor (the first read), or when Gmail no longer has that history (404: it keeps about a
        week), the search ``search.gmail_query()`` paged to the end, from the current
        ``historyId`` (taken first, so what arrives during the listing is in the next read).
        Each message comes with its headers only (``raw`` fetches its bytes); those in ``known``
        are not fetched again."""
        from googleapiclient.errors import HttpError

        ids, how = None, "listing"
        if cursor:
            try:
                ids, cursor = self._history(cursor)
                how = "history"
            except HttpError as exc:
                if exc.resp.status != 404:
                    raise _classify(exc) from exc
                how = "listing (history expired)"
        if ids is None:
            cursor = str(self._call(self.service.users().getProfile(userId=self.user), "getProfile")["historyId"])
            ids = self._listing(search.gmail_query())
        found = []
        for mid in dict.fromkeys(ids):
            if mid in known:
                continue
            res = self._get(mid, format="metadata", metadataHeaders=list(SCREEN_HEADERS))
            if res is None:
                continue  # deleted since it was listed
            headers: dict[str, str] = {}
            for h in (res.get("payload") or {}).get("headers") or []:
                name = next((n for n in SCREEN_HEADERS if n.lower() == str(h.get("name", "")).lower()), None)
                if name:
                    headers[name] = f"{headers[name]}, {h.get('value', '')}" if name in headers else str(h.get("value", ""))
            received = dt.datetime.fromtimestamp(int(res.get("internalDate", 0)) / 1000, dt.timezone.utc)
            found.append(Incoming(mid, received, headers, int(res.get("sizeEstimate") or 0)))
        return InboxRead(sorted(found, key=lambda m: m.received_at), cursor, how)

    def raw(self, message_id: str) -> bytes | None:
        """A message's bytes (None: deleted since it was listed)."""
        res = self._get(message_id, format="raw")
        return None if res is None else base64.urlsafe_b64decode(res["raw"] + "=" * (-len(res["raw"]) % 4))

    def _history(self, start: str) -> tuple[list[str], str]:
        """The inbox messages added since history id ``start``, oldest first, and the mailbox's
        history id at the end of the read."""
        ids: list[str] = []
        token, latest = None, start
        while True:
            res = self._call(self.service.users().history().list(
                userId=self.user, startHistoryId=start, historyTypes="messageAdded", labelId="INBOX",
                maxResults=500, pageToken=token), "history.list")
            for record in res.get("history") or []:
                ids += [a["message"]["id"] for a in record.get("messagesAdded") or []
                        if "INBOX" in (a["message"].get("labelIds") or ["INBOX"])]
            latest = str(res.get("historyId") or latest)
            token = res.get("nextPageToken")
            if not token:
                return ids, latest

    def _listing(self, query: str) -> list[str]:
        """Every message the search finds, paged to the end."""
        ids: list[str] = []
        token = None
        while True:
            res = self._call(self.service.users().messages().list(
                userId=self.user, q=query, maxResults=500, pageToken=token), "messages.list")
            ids += [m["id"] for m in res.get("messages") or []]
            token = res.get("nextPageToken")
            if not token:
                return ids

    def _get(self, message_id: str, **params) -> dict | None:
        from googleapiclient.errors import HttpError

        try:
            return self._call(self.service.users().messages().get(userId=self.user, id=message_id, **params),
                              "messages.get")
        except HttpError as exc:
            if exc.resp.status == 404:
                return None
            raise
