"""Waiting before trying again: how long, and what a server asked for. Shared by every client that
talks to Google (Gmail sends, Sheets reads and writes)."""
from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
from dataclasses import dataclass

_RETRY_AFTER_TEXT = re.compile(r"Retry after (\S+)", re.I)


@dataclass
class RetryPolicy:
    """How long one task keeps trying a call before leaving it for the next attempt."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    lease_seconds: int = 600
    max_throttle_wait: float = 300.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        # Exponential backoff with full jitter: retries from many workers do not arrive together.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


def retry_after_seconds(header: str | None, message: str | None, now: dt.datetime | None = None) -> float | None:
    """A server's retry time, from a Retry-After header (seconds or HTTP date) or from the error
    text (Gmail: "User-rate limit exceeded.  Retry after 2026-11-23T05:40:21.123Z")."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if header:
        header = header.strip()
        if header.isdigit():
            return float(header)
        try:
            return max((email.utils.parsedate_to_datetime(header) - now).total_seconds(), 0.0)
        except (TypeError, ValueError):
            pass
    m = _RETRY_AFTER_TEXT.search(message or "")
    if m:
        try:
            when = dt.datetime.fromisoformat(m.group(1).rstrip("."))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            return max((when - now).total_seconds(), 0.0)
        except ValueError:
            return None
    return None
