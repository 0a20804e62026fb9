"""The business rules: who stands where, and which email is due, as of one moment.

Everything here is a pure function of the cohort's configuration, the customer's reconciled
record and ``as_of`` (the run's own time, never the wall clock), so a rerun of the same date
decides the same.

- On time: completed at or before the deadline (end of the deadline date in the cohort's zone,
  plus any grace period).
- Reminder: to a customer not yet complete, at runs from N days before the deadline date up to
  the deadline; a late signup inside that window still gets one.
- Cancellation: to a customer not on time, at the first run after the deadline.
- Welcome: to a customer on time, at the first run after the deadline, or, with
  ``welcome_timing: on_completion``, at the first run after they complete.
- Nobody gets both a cancellation and a welcome; nobody gets anything while held (a completion
  row naming them was quarantined).
- Each (cohort, customer, kind) is sent at most once, ever: the ledger enforces it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from onboarding.config import Cohort

KINDS = ("reminder", "cancellation", "welcome")
EXCLUSIVE = {"welcome": "cancellation", "cancellation": "welcome"}
# Ledger states after which a key counts as taken by an earlier run.
SENT_STATES = ("sent", "unconfirmed")
# A rival email being sent right now may already have gone out; one merely pending has not.
IN_FLIGHT_STATES = ("claimed", "drafted")

ON_TIME, COMPLETED_LATE, PENDING, MISSED, HELD = "on_time", "completed_late", "pending", "missed", "held"


@dataclass(frozen=True)
class Customer:
    email: str
    name: str
    completed_at: dt.datetime | None  # earliest completion at or before as_of, UTC
    held: bool = False


@dataclass(frozen=True)
class Decision:
    email: str
    name: str
    kind: str
    outcome: str  # due, already_sent, blocked, failed_earlier
    reason: str

    @property
    def due(self) -> bool:
        return self.outcome == "due"


def email_key(cohort_id: str, email: str, kind: str) -> str:
    """The stable identity of one email: at most one is ever sent per key."""
    return f"{cohort_id}|{email}|{kind}"


def email_ref(key: str) -> str:
    """A short unique reference carried in the email, by which a later attempt finds it in Sent."""
    return "onb-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def standing(customer: Customer, cohort: Cohort, as_of: dt.datetime) -> str:
    if customer.held:
        return HELD
    if customer.completed_at is not None:
        return ON_TIME if customer.completed_at < cohort.deadline_at else COMPLETED_LATE
    return PENDING if as_of < cohort.deadline_at else MISSED


def due_kinds(customer: Customer, cohort: Cohort, as_of: dt.datetime) -> list[tuple[str, str]]:
    """The kinds of email the rules call for at ``as_of``, each with the reason, before the ledger."""
    status = standing(customer, cohort, as_of)
    after_deadline = as_of >= cohort.deadline_at
    if status == PENDING and as_of >= cohort.reminder_window_start:
        return [("reminder", f"not complete; reminder window opened {cohort.reminder_window_start:%Y-%m-%d %H:%M %Z}")]
    if status == MISSED:
        return [("cancellation", "no completion by the deadline")]
    if status == COMPLETED_LATE:
        return [("cancellation", f"completed after the deadline ({customer.completed_at:%Y-%m-%d %H:%M} UTC)")]
    if status == ON_TIME and (after_deadline or cohort.welcome_timing == "on_completion"):
        return [("welcome", "completed on time")]
    return []


def decide(customer: Customer, cohort: Cohort, as_of: dt.datetime,
           ledger: dict[str, str]) -> list[Decision]:
    """The rules, then the ledger: ``ledger`` maps this customer's kinds to their ledger status.

    An email already sent (or possibly sent) is not sent again; a welcome is blocked once a
    cancellation went out, and the reverse, so a late correction to an export cannot give a
    customer both.
    """
    out = []
    for kind, reason in due_kinds(customer, cohort, as_of):
        status = ledger.get(kind)
        rival = EXCLUSIVE.get(kind)
        if status in SENT_STATES:
            out.append(Decision(customer.email, customer.name, kind, "already_sent", f"{kind} {status} earlier"))
        elif status == "failed":
            out.append(Decision(customer.email, customer.name, kind, "failed_earlier",
                                "refused for good by the mail provider earlier; see the ledger"))
        elif rival and ledger.get(rival) in SENT_STATES + IN_FLIGHT_STATES:
            out.append(Decision(customer.email, customer.name, kind, "blocked",
                                f"a {rival} was already {ledger[rival]} for this customer; needs the instructor"))
        else:
            out.append(Decision(customer.email, customer.name, kind, "due", reason))
    return out
