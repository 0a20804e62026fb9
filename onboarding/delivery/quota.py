"""Gmail's limits, respected from our side.

- **Per-user rate**: Gmail counts quota units per user per minute (6,000 for projects created
  since May 2026, 15,000 for older ones); ``drafts.send`` costs 100, ``drafts.create`` 10, a
  search or get 5. ``Pacer`` is a token bucket shared by all sending threads of a task: it lets
  calls through at the configured rate and holds everyone back when Gmail says to wait.
- **Daily cap**: a Workspace account may send 2,000 messages in a rolling 24 hours (500 on a
  trial). The ledger knows what was sent when, so the cap is counted from it.
- **Throttles**: a 429 or rate-limit 403 may carry a retry time (a ``Retry-After`` header, or
  "Retry after <time>" in the message); it is honoured. One longer than ``max_throttle_wait``
  stops the batch; what is left stays due for the next run.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from onboarding.backoff import RetryPolicy

# Quota units per method (Gmail API usage limits).
GMAIL_COSTS = {"drafts.create": 10, "drafts.send": 100, "drafts.get": 5, "drafts.list": 5,
               "messages.list": 5, "messages.get": 5, "messages.send": 100,
               "getProfile": 1, "history.list": 2}


@dataclass(frozen=True)
class Limits:
    """Delivery limits of one email account (set in its connection's extra)."""

    units_per_minute: int = 6000
    daily_cap: int = 2000
    concurrency: int = 4
    max_throttle_wait: float = 300.0  # seconds; a longer throttle stops the batch
    attempts: int = 4  # tries per email within one task before leaving it for a retry
    retry_base_delay: float = 1.0  # seconds; exponential backoff with full jitter from here

    @classmethod
    def from_extra(cls, extra: dict, **defaults) -> "Limits":
        base = cls(**defaults)
        return cls(
            units_per_minute=int(extra.get("units_per_minute", base.units_per_minute)),
            daily_cap=int(extra.get("daily_cap", base.daily_cap)),
            concurrency=max(1, int(extra.get("concurrency", base.concurrency))),
            max_throttle_wait=float(extra.get("max_throttle_wait", base.max_throttle_wait)),
            attempts=max(1, int(extra.get("attempts", base.attempts))),
            retry_base_delay=float(extra.get("retry_base_delay", base.retry_base_delay)),
        )

    def retry_policy(self) -> RetryPolicy:
        """How long one task keeps trying an email on this account."""
        return RetryPolicy(attempts=self.attempts, base_delay=self.retry_base_delay,
                           max_throttle_wait=self.max_throttle_wait)


class Pacer:
    """A thread-safe token bucket in quota units, refilled continuously at the per-minute rate.

    The bucket holds at most one second of quota (or one call's cost, if larger), so sends are
    spread evenly rather than bursting into Gmail's per-user limit.
    """

    def __init__(self, units_per_minute: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = units_per_minute / 60.0 if units_per_minute else None  # units per second
        self.capacity = max(self.rate or 0, max(GMAIL_COSTS.values()))
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.paused_until = 0.0
        self.lock = threading.Lock()
        self.units_taken = 0
        self.waited = 0.0

    def take(self, units: float) -> None:
        """Block until ``units`` may be spent, then spend them."""
        if self.rate is None:
            with self.lock:
                self.units_taken += units
            return
        while True:
            with self.lock:
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                wait = max(self.paused_until - now, 0.0)
                if not wait and self.tokens >= units:
                    self.tokens -= units
                    self.units_taken += units
                    return
                wait = wait or (units - self.tokens) / self.rate
                self.waited += wait
            self.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Gmail said to wait: every caller holds off for ``seconds``, and the bucket empties."""
        with self.lock:
            self.paused_until = max(self.paused_until, self.clock() + seconds)
            self.tokens = 0.0
