"""Delivery: getting each due email out exactly once, through the ledger.

An email moves through the ledger as
    pending -> claimed -> drafted -> sent
and may end instead as ``failed`` (the provider refused it for good, e.g. a bad recipient) or
``unconfirmed`` (its draft vanished but no sent copy can be found: it may have gone out, so it is
never resent automatically; the instructor is told).

1. **claim**: an atomic ledger update takes the email (from pending, or from claimed/drafted whose
   lease expired because a worker died); a second worker or run gets nothing and moves on.
2. **recover**: if the email was attempted before, ask the provider first: a sent copy carrying
   the email's reference means it went out (record it, done); an existing draft is sent as is.
3. **draft**: create a draft and record its id before sending it.
4. **send**: send the draft; record the provider's message id.

A refusal before anything was stored (429, 5xx, timeout) leaves the row claimed or drafted with
its lease ended, so the next attempt goes through step 2 before sending again. Two backends
implement the same five calls: a local outbox folder of ``.eml`` files, and the Gmail API.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Protocol

import sqlalchemy as sa

from onboarding import state
from onboarding.quota import GMAIL_COSTS, Limits, Pacer, Throttled, retry_after_seconds

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send did not (provably) happen; ``permanent`` when retrying cannot help."""

    permanent = False


class TransientError(DeliveryError):
    """Rate limit, server error, timeout: the outcome is unclear or the refusal temporary."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Refused for good (an invalid recipient): recorded as failed, the batch goes on."""

    permanent = True


class Sender(Protocol):
    backend: str
    account: str  # whose quota and daily cap the sends count against
    pacer: Pacer

    def find_sent(self, ref: str) -> str | None: ...

    def find_draft(self, ref: str) -> str | None: ...

    def draft_exists(self, draft_id: str) -> bool: ...

    def create_draft(self, msg: EmailMessage, label: str) -> str: ...

    def send_draft(self, draft_id: str) -> str: ...


_SAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


class OutboxSender:
    """Writes each email as an .eml file: ``<root>/<cohort>/<kind>/<recipient>.<ref>.eml``.

    A draft is a file under ``<root>/.drafts``; sending moves it into place atomically, so a file
    in the outbox is an email sent, whole, exactly once.
    """

    backend = "outbox"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.drafts = self.root / ".drafts"
        self.account = "outbox"
        self.pacer = Pacer(None)

    def _sent_files(self, ref: str) -> list[Path]:
        return [p for p in self.root.glob(f"*/*/*.{ref}.eml")]

    def find_sent(self, ref: str) -> str | None:
        found = self._sent_files(ref)
        return str(found[0].relative_to(self.root)) if found else None

    def find_draft(self, ref: str) -> str | None:
        found = list(self.drafts.glob(f"*.{ref}.eml")) if self.drafts.exists() else []
        return found[0].name if found else None

    def draft_exists(self, draft_id: str) -> bool:
        return (self.drafts / draft_id).exists()

    def create_draft(self, msg: EmailMessage, label: str) -> str:
        self.drafts.mkdir(parents=True, exist_ok=True)
        name = f"{_SAFE.sub('_', label)}.{msg['X-Onboarding-Ref']}.eml"
        tmp = self.drafts / f".{name}.part"
        tmp.write_bytes(bytes(msg))
        os.replace(tmp, self.drafts / name)
        return name

    def send_draft(self, draft_id: str) -> str:
        src = self.drafts / draft_id
        cohort, kind, rest = draft_id.split("__", 2)
        dest = self.root / cohort / kind / rest
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dest)
        except FileNotFoundError:
            raise TransientError(f"draft {draft_id} is gone") from None
        return str(dest.relative_to(self.root))


def outbox_factory(root: str | Path, concurrency: int = 1) -> "SenderFactory":
    """The local outbox: no quota, no daily cap."""
    return SenderFactory(lambda _pacer: OutboxSender(root), "outbox",
                         Limits(units_per_minute=0, daily_cap=10**9, concurrency=concurrency))


def outbox_label(cohort_id: str, kind: str, recipient: str) -> str:
    return f"{cohort_id}__{kind}__{recipient}"


@dataclass
class RetryPolicy:
    """How long one delivery task keeps trying an email before leaving it for the next attempt."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    lease_seconds: int = 600
    max_throttle_wait: float = 300.0

    @classmethod
    def for_limits(cls, lim: Limits) -> "RetryPolicy":
        return cls(attempts=lim.attempts, base_delay=lim.retry_base_delay, max_throttle_wait=lim.max_throttle_wait)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        # Exponential backoff with full jitter: retries from many workers do not arrive together.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


@dataclass
class Outcome:
    email_key: str
    status: str  # sent, recovered, failed, unconfirmed, waiting, skipped
    detail: str = ""
    message_id: str | None = None
    stopped: bool = False  # waiting because the batch stopped (daily cap, long throttle), not retried now


class DeliveryIncomplete(Exception):
    """Some emails were refused temporarily until the attempts ran out: the task fails so that
    Airflow retries it (with backoff); each retry recovers before it resends."""


@dataclass
class Ledger:
    """Ledger writes for one owner (run and try), each committed at once."""

    engine: sa.Engine
    owner: str
    run_id: str
    events: list = field(default_factory=list)

    def _exec(self, name: str, event: str, key: str, detail: str | None = None, **params) -> int:
        now = state.iso(state.utcnow())
        with self.engine.begin() as conn:
            n = conn.execute(state.sql(name), {"email_key": key, "owner": self.owner, "now": now,
                                               "run_id": self.run_id, **params}).rowcount
            if n:
                conn.execute(state.sql("ledger_event"), {"email_key": key, "at": now, "event": event,
                                                         "run_id": self.run_id, "detail": detail})
        return n

    def claim(self, key: str, backend: str, lease_seconds: int) -> dict | None:
        lease = state.iso(state.utcnow() + dt.timedelta(seconds=lease_seconds))
        if not self._exec("ledger_claim", "claimed", key, self.owner, lease_until=lease, backend=backend):
            return None
        with self.engine.connect() as conn:
            return state.rows(conn, "ledger_get", email_key=key)[0]

    def drafted(self, key: str, draft_id: str) -> None:
        self._exec("ledger_mark_drafted", "drafted", key, draft_id, draft_id=draft_id)

    def sent(self, key: str, message_id: str | None, how: str = "sent") -> None:
        self._exec("ledger_mark_sent", how, key, message_id, message_id=message_id)

    def final(self, key: str, status: str, error: str) -> None:
        self._exec("ledger_mark_final", status, key, error, status=status, error=error)

    def release(self, key: str, error: str) -> None:
        self._exec("ledger_release", "released", key, error, error=error)


def deliver_one(ledger: Ledger, sender: Sender, key: str, build: Callable[[], tuple[EmailMessage, str]],
                policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Deliver one ledger email, at most once, retrying temporary refusals within ``policy``."""
    last_error = ""
    for attempt in range(policy.attempts):
        row = ledger.claim(key, sender.account, policy.lease_seconds)
        if row is None:
            return Outcome(key, "skipped", "not claimable: sent, final, or being sent by another worker")
        try:
            return _attempt(ledger, sender, row, build)
        except PermanentError as exc:
            ledger.final(key, "failed", str(exc))
            return Outcome(key, "failed", str(exc))
        except TransientError as exc:
            last_error = str(exc)
            ledger.release(key, last_error)
            if exc.retry_after is not None and exc.retry_after > policy.max_throttle_wait:
                raise Throttled(f"Gmail asked to wait {exc.retry_after:.0f}s: {exc}") from exc
            if attempt + 1 < policy.attempts:
                wait = policy.delay(attempt, exc.retry_after)
                log.warning("delivery of %s refused (%s); retrying in %.1fs", row["ref"], exc, wait)
                if exc.retry_after is not None:
                    sender.pacer.pause(wait)  # every thread on this account holds off, not just this one
                sleep(wait)
        except BaseException as exc:
            # Anything unexpected (a bug, bad credentials): give the email back and stop the task;
            # the next attempt recovers it from the provider before sending.
            ledger.release(key, f"{type(exc).__name__}: {exc}")
            raise
    return Outcome(key, "waiting", f"still refused after {policy.attempts} attempts: {last_error}")


def _attempt(ledger: Ledger, sender: Sender, row: dict, build) -> Outcome:
    key, ref, draft_id = row["email_key"], row["ref"], row["draft_id"]
    if row["attempts"] > 1 or row["status"] == "drafted":
        # Attempted before: find out from the provider what happened before doing anything.
        message_id = sender.find_sent(ref)
        if message_id:
            ledger.sent(key, message_id, how="recovered")
            return Outcome(key, "recovered", "found in Sent from an earlier attempt", message_id)
        if draft_id and not sender.draft_exists(draft_id):
            error = (f"draft {draft_id} no longer exists and no sent copy of {ref} was found: it may "
                     f"have been sent; not resending automatically")
            ledger.final(key, "unconfirmed", error)
            return Outcome(key, "unconfirmed", error)
        if not draft_id:
            draft_id = sender.find_draft(ref)
            if draft_id:
                ledger.drafted(key, draft_id)
    if not draft_id:
        msg, label = build()
        draft_id = sender.create_draft(msg, label)
        ledger.drafted(key, draft_id)
    message_id = sender.send_draft(draft_id)
    ledger.sent(key, message_id)
    return Outcome(key, "sent", "", message_id)


@dataclass
class BatchItem:
    email_key: str
    build: Callable[[], tuple[EmailMessage, str]]


class SenderFactory:
    """Makes a sender per sending thread (HTTP clients are not shared between threads), all
    sharing one pacer, for one account with its limits."""

    def __init__(self, make: Callable[[Pacer], Sender], account: str, limits: Limits):
        self.make, self.account, self.limits = make, account, limits
        self.pacer = Pacer(limits.units_per_minute)

    def __call__(self) -> Sender:
        return self.make(self.pacer)


def sent_in_last_day(engine: sa.Engine, account: str) -> int:
    since = state.iso(state.utcnow() - dt.timedelta(hours=24))
    with engine.connect() as conn:
        return conn.execute(state.sql("ledger_sent_since"), {"account": account, "since": since}).scalar_one()


def deliver_batch(ledger: Ledger, factory: SenderFactory, items: list[BatchItem],
                  policy: RetryPolicy | None = None) -> list[Outcome]:
    """Deliver ``items`` in order (most urgent first), up to ``limits.concurrency`` at a time,
    paced under the account's rate and stopped at its rolling 24-hour cap or by a long throttle.
    Whatever is not attempted stays due for the next run, with the reason noted in the ledger."""
    policy = policy or RetryPolicy.for_limits(factory.limits)
    allowance = factory.limits.daily_cap - sent_in_last_day(ledger.engine, factory.account)
    lock = threading.Lock()
    stop: list[str] = []  # the reason the batch stopped, once it has
    local = threading.local()

    def one(item: BatchItem) -> Outcome:
        nonlocal allowance
        with lock:
            if not stop and allowance <= 0:
                stop.append(f"daily cap of {factory.limits.daily_cap} emails in 24 hours reached")
            if stop:
                return Outcome(item.email_key, "waiting", stop[0], stopped=True)
            allowance -= 1
        if not hasattr(local, "sender"):
            local.sender = factory()
        try:
            out = deliver_one(ledger, local.sender, item.email_key, item.build, policy)
        except Throttled as exc:
            with lock:
                stop.append(str(exc))
            return Outcome(item.email_key, "waiting", str(exc), stopped=True)
        if out.status in ("skipped", "waiting", "failed"):
            with lock:
                allowance += 1  # nothing went out: the slot is free again
        return out

    with ThreadPoolExecutor(max_workers=factory.limits.concurrency, thread_name_prefix="send") as pool:
        outcomes = list(pool.map(one, items))
    noted = [o for o in outcomes if o.status == "waiting"]
    if noted:
        now = state.iso(state.utcnow())
        with ledger.engine.begin() as conn:
            conn.execute(state.sql("ledger_note"), [{"email_key": o.email_key, "note": o.detail, "now": now}
                                                    for o in noted])
    return outcomes


# --- Gmail -------------------------------------------------------------------------------------

GMAIL_SCOPES = (
    "https://www.googleapis.com/auth/gmail.compose",  # drafts.create, drafts.send
    "https://www.googleapis.com/auth/gmail.readonly",  # messages.list / drafts.list search on recovery
)
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


def gmail_service(extra: dict, timeout: float = 30.0):
    """A Gmail client from a connection's settings: an OAuth user (client id, secret, refresh
    token) or a service account with domain-wide delegation (key and the user to act as).
    ``token_uri`` and ``api_endpoint`` may point it at another server (the tests' fake Google)."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    from onboarding.google_clients import credentials

    creds = credentials(extra, GMAIL_SCOPES, "Gmail", subject_required=True)
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=timeout))
    options = {"api_endpoint": extra["api_endpoint"]} if extra.get("api_endpoint") else None
    return build("gmail", "v1", http=http, client_options=options, static_discovery=True,
                 cache_discovery=False)
