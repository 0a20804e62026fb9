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
implement the same five calls (``onboarding.delivery.senders``): a local outbox folder of ``.eml``
files, and the Gmail API. Every email the project sends goes through here, customers' emails,
the instructor's summary and the data team's alerts alike.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from onboarding.backoff import RetryPolicy
from onboarding.delivery.messages import Message
from onboarding.delivery.senders import Sender, SenderFactory
from onboarding.errors import PermanentError, Throttled, TransientError, UnsafeMessage
from onboarding.store import Store
from onboarding.times import utcnow

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    email_key: str
    status: str  # sent, recovered, failed, unconfirmed, waiting, skipped
    detail: str = ""
    message_id: str | None = None
    stopped: bool = False  # waiting because the batch stopped (daily cap, long throttle), not retried now


@dataclass
class Ledger:
    """The ledger as one owner (a run's try, in one process) writes it; each write commits at once."""

    store: Store
    owner: str
    run_id: str

    def claim(self, key: str, backend: str, lease_seconds: int) -> dict | None:
        return self.store.ledger.claim(key, self.owner, self.run_id, backend, lease_seconds)

    def drafted(self, key: str, draft_id: str) -> None:
        self.store.ledger.drafted(key, self.owner, self.run_id, draft_id)

    def sent(self, key: str, message_id: str | None, how: str = "sent") -> None:
        self.store.ledger.sent(key, self.owner, self.run_id, message_id, how)

    def final(self, key: str, status: str, error: str) -> None:
        self.store.ledger.final(key, self.owner, self.run_id, status, error)

    def release(self, key: str, error: str) -> None:
        self.store.ledger.release(key, self.owner, self.run_id, error)

    def claim_many(self, keys: list[str], backend: str, lease_seconds: int) -> dict[str, dict]:
        return self.store.ledger.claim_many(keys, self.owner, self.run_id, backend, lease_seconds)

    def drafted_many(self, drafts: dict[str, str]) -> None:
        if drafts:
            self.store.ledger.drafted_many(drafts, self.owner, self.run_id)

    def sent_many(self, sent: dict[str, str | None]) -> None:
        if sent:
            self.store.ledger.sent_many(sent, self.owner, self.run_id)


def deliver_one(ledger: Ledger, sender: Sender, key: str, build: Callable[[], tuple[Message, str]],
                policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep, row: dict | None = None) -> Outcome:
    """Deliver one ledger email, at most once, retrying temporary refusals within ``policy``.
    ``row``: the email's row when this owner has just claimed it (a batch claim)."""
    last_error = ""
    for attempt in range(policy.attempts):
        if row is None or attempt:
            row = ledger.claim(key, sender.account, policy.lease_seconds)
        if row is None:
            return Outcome(key, "skipped", "not claimable: sent, final, or being sent by another worker")
        try:
            return _attempt(ledger, sender, row, build)
        except PermanentError as exc:
            ledger.final(key, "failed", str(exc))
            return Outcome(key, "failed", str(exc))
        except UnsafeMessage as exc:
            # Built wrong: never sent, nor retried; the instructor's summary lists it.
            error = f"not sent: unsafe message: {exc}"
            ledger.final(key, "failed", error)
            return Outcome(key, "failed", error)
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


def deliver_chunk(ledger: Ledger, sender: Sender, items: list["BatchItem"], policy: RetryPolicy) -> list[Outcome]:
    """Deliver several emails with the steps of ``deliver_one`` taken for all of them at once, the
    ledger written once per step: claim them all; build and draft each; record the drafts; send
    each; record them sent. Each email's ledger row is still written before the step that needs
    it (claimed before its draft exists, drafted before it is sent) and after the step it
    records, so a crash anywhere leaves every email where ``deliver_one`` would (the next attempt
    asks the provider first). An email attempted before, or one whose step raises, goes through
    ``deliver_one`` on its own, after what the chunk did is recorded."""
    rows = ledger.claim_many([i.email_key for i in items], sender.account, policy.lease_seconds)
    outcomes: dict[str, Outcome] = {}
    try:
        alone: list[BatchItem] = []  # delivered one at a time, after the chunk's steps are recorded
        fresh: list[tuple[BatchItem, Any, str]] = []
        for item in items:
            row = rows.get(item.email_key)
            if row is None:
                outcomes[item.email_key] = Outcome(item.email_key, "skipped",
                                                   "not claimable: sent, final, or being sent by another worker")
            elif row["attempts"] > 1 or row["status"] != "claimed" or row["draft_id"]:
                alone.append(item)
            else:
                try:
                    msg, label = item.build()
                except UnsafeMessage as exc:
                    error = f"not sent: unsafe message: {exc}"
                    ledger.final(item.email_key, "failed", error)
                    outcomes[item.email_key] = Outcome(item.email_key, "failed", error)
                    continue
                except Exception:  # noqa: BLE001 - that email on its own, with deliver_one's handling
                    alone.append(item)
                    continue
                fresh.append((item, msg, label))
        drafts: dict[str, str] = {}
        try:
            for item, msg, label in fresh:
                drafts[item.email_key] = sender.create_draft(msg, label)
        except Exception:  # noqa: BLE001 - those not drafted go on their own
            alone += [item for item, _, _ in fresh if item.email_key not in drafts]
        ledger.drafted_many(drafts)
        sent: dict[str, str | None] = {}
        try:
            for key, draft_id in drafts.items():
                sent[key] = sender.send_draft(draft_id)
        except Exception:  # noqa: BLE001 - those not sent go on their own
            alone += [item for item, _, _ in fresh if item.email_key in drafts and item.email_key not in sent]
        ledger.sent_many(sent)
        outcomes.update((k, Outcome(k, "sent", "", m)) for k, m in sent.items())
        for item in alone:
            # Given back first: the next claim sees an attempt was made and asks the provider.
            ledger.release(item.email_key, "delivered on its own after its batch")
            outcomes[item.email_key] = deliver_one(ledger, sender, item.email_key, item.build, policy)
    except BaseException as exc:
        # As deliver_one: give back what is not done, and stop; the next attempt asks the provider.
        for key in rows.keys() - outcomes.keys():
            ledger.release(key, f"{type(exc).__name__}: {exc}")
        raise
    return [outcomes[i.email_key] for i in items]


@dataclass
class BatchItem:
    email_key: str
    build: Callable[[], tuple[Message, str]]


@dataclass(frozen=True)
class Progress:
    """How far a batch has got: for a log line every ``PROGRESS_SECONDS`` while it sends."""

    done: int
    total: int
    counts: dict[str, int]
    elapsed: float  # seconds since the batch started

    @property
    def per_minute(self) -> float:
        return 60 * self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        return (self.total - self.done) * self.elapsed / self.done if self.done else None


PROGRESS_SECONDS = 30.0  # a long send says how far it has got at least this often
NOTHING_WENT_OUT = ("skipped", "waiting", "failed")  # outcomes that used none of the daily cap


class _Allowance:
    """What the account may still send under its rolling 24-hour cap, shared by a batch's threads:
    taken before sending, given back for what did not go out. Once the batch stops (the cap
    reached, a long throttle) it gives nothing, and says why (the first reason)."""

    def __init__(self, left: int, cap: int):
        self.left = left
        self.cap = cap
        self.lock = threading.Lock()
        self.stopped: str | None = None

    def take(self, wanted: int) -> int:
        """How many of ``wanted`` sends may go out now; falling short of them stops the batch."""
        with self.lock:
            if self.stopped is None and self.left <= 0:
                self.stopped = f"daily cap of {self.cap} emails in 24 hours reached"
            took = 0 if self.stopped else min(self.left, wanted)
            self.left -= took
            if took < wanted and self.stopped is None:
                self.stopped = f"daily cap of {self.cap} emails in 24 hours reached"
            return took

    def give_back(self, outcomes: list[Outcome]) -> None:
        """Nothing went out for these: their slots are free again."""
        with self.lock:
            self.left += sum(o.status in NOTHING_WENT_OUT for o in outcomes)

    def stop(self, reason: str) -> None:
        with self.lock:
            self.stopped = self.stopped or reason


class _Tally:
    """The batch's outcomes counted as they come, heard by ``progress`` every ``PROGRESS_SECONDS``
    (and once at the end)."""

    def __init__(self, total: int, progress: Callable[[Progress], None] | None):
        self.total, self.progress = total, progress
        self.counts: dict[str, int] = {}
        self.started = self.last_report = time.monotonic()
        self.lock = threading.Lock()

    def add(self, outs: list[Outcome]) -> list[Outcome]:
        with self.lock:
            for out in outs:
                self.counts[out.status] = self.counts.get(out.status, 0) + 1
            now = time.monotonic()
            due = self.progress is not None and now - self.last_report >= PROGRESS_SECONDS
            if due:
                self.last_report = now
                snapshot = Progress(sum(self.counts.values()), self.total, dict(self.counts), now - self.started)
        if due:
            self.progress(snapshot)
        return outs

    def end(self) -> None:
        if self.progress is not None and self.total:
            self.progress(Progress(self.total, self.total, dict(self.counts), time.monotonic() - self.started))


def deliver_batch(ledger: Ledger, factory: SenderFactory, items: list[BatchItem],
                  policy: RetryPolicy | None = None,
                  progress: Callable[[Progress], None] | None = None) -> list[Outcome]:
    """Deliver ``items`` in order (most urgent first), up to ``limits.concurrency`` at a time,
    paced under the account's rate and stopped at its rolling 24-hour cap or by a long throttle.
    Whatever is not attempted stays due for the next run, with the reason noted in the ledger.
    ``progress`` hears how far it has got every ``PROGRESS_SECONDS`` (and once at the end)."""
    policy = policy or factory.limits.retry_policy()
    tally = _Tally(len(items), progress)
    allowance = _Allowance(factory.limits.daily_cap - ledger.store.ledger.sent_since(
        factory.account, utcnow() - dt.timedelta(hours=24)), factory.limits.daily_cap)
    local = threading.local()

    def sender() -> Sender:
        if not hasattr(local, "sender"):
            local.sender = factory()
        return local.sender

    def one(item: BatchItem) -> list[Outcome]:
        if not allowance.take(1):
            return [Outcome(item.email_key, "waiting", allowance.stopped, stopped=True)]
        try:
            out = deliver_one(ledger, sender(), item.email_key, item.build, policy)
        except Throttled as exc:
            allowance.stop(str(exc))
            return [Outcome(item.email_key, "waiting", str(exc), stopped=True)]
        allowance.give_back([out])
        return [out]

    def chunk(part: list[BatchItem]) -> list[Outcome]:
        """A batching sender's chunk: the allowance it may use taken at once, what it did not use
        given back."""
        take = allowance.take(len(part))
        outs = deliver_chunk(ledger, sender(), part[:take], policy) if take else []
        allowance.give_back(outs)
        return outs + [Outcome(i.email_key, "waiting", allowance.stopped, stopped=True) for i in part[take:]]

    size = factory.batch
    with ThreadPoolExecutor(max_workers=factory.limits.concurrency, thread_name_prefix="send") as pool:
        if size > 1:
            parts = [items[i:i + size] for i in range(0, len(items), size)]
            outcomes = [o for outs in pool.map(lambda part: tally.add(chunk(part)), parts) for o in outs]
        else:
            outcomes = [o for outs in pool.map(lambda item: tally.add(one(item)), items) for o in outs]
    tally.end()
    ledger.store.ledger.note({o.email_key: o.detail for o in outcomes if o.status == "waiting"})
    return outcomes


def send_one(store: Store, factory: SenderFactory, owner: str, run_id: str, key: str,
             build: Callable[[], tuple[Message, str]]) -> Outcome:
    """Deliver one email entered in the ledger (``store.ledger.plan_one``, which gives its key and
    reference), at most once: the instructor's summary, a digest, a failure alert."""
    return deliver_one(Ledger(store, owner, run_id), factory(), key, build, factory.limits.retry_policy())
