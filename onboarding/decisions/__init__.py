"""Decisions: who stands where as of a run's moment, which email each customer is due, and whether
the run may send at all. Pure functions of the loaded facts and the run's parameters (never of
the wall clock), so a rerun of the same moment decides the same.

``rules``: the business rules per customer (vectorised over a cohort). ``run``: one run's every
decision, from the rules, the ledger and the run's parameters. ``guards``: the checks that hold a
run whose exports look wrong. This module holds the vocabulary they share; it imports nothing
heavy, so the DAG file may read ``KINDS`` when Airflow parses it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

KINDS = ("reminder", "cancellation", "welcome")
# The trigger form's email kinds: the seed journey's three, and ``stage``. A journey cohort's
# emails fall into them by what they are: its reminders, its cancellations, ``welcome`` for the
# emails sent on completing a stage (the seed's welcome is one) and ``stage`` for those sent on
# entering one (a verification, a details form, a CSM's introduction).
FORM_KINDS = KINDS + ("stage",)
# A journey email's ledger kind, ``<stage>:<kind>`` (what the trigger form's resend names).
JOURNEY_KIND = r"[a-z0-9][a-z0-9_-]{0,62}:[a-z0-9][a-z0-9_-]{0,62}"
EXCLUSIVE = {"welcome": "cancellation", "cancellation": "welcome"}
# A reminder makes no sense once the customer's cancellation or welcome went out (or may have).
ENDS_REMINDERS = ("cancellation", "welcome")
# Ledger states after which a key counts as taken by an earlier run (a bounced email went out; a
# soft bounce is sent again once, under a key of its own: ``retry_key``).
SENT_STATES = ("sent", "unconfirmed", "bounced")
# A rival email being sent right now may already have gone out; one merely pending has not.
IN_FLIGHT_STATES = ("claimed", "drafted")

ON_TIME, COMPLETED_LATE, PENDING, MISSED, HELD = "on_time", "completed_late", "pending", "missed", "held"


@dataclass(frozen=True)
class Resend:
    """The instructor asks, from the trigger form, to send one customer's email again."""

    email: str
    kind: str
    reason: str


def email_key(cohort_id: str, email: str, kind: str) -> str:
    """The stable identity of one email: at most one is ever sent per key."""
    return f"{cohort_id}|{email}|{kind}"


def resend_key(cohort_id: str, email: str, kind: str, run_id: str) -> str:
    """A resend asked for by hand has a key of its own: sent at most once too."""
    return f"{email_key(cohort_id, email, kind)}|resend|{run_id}"


def retry_key(key: str) -> str:
    """An email that bounced softly is sent again once, under this key: at most one retry."""
    return f"{key}|retry"


def is_extra(key: str) -> bool:
    """Whether a ledger key is a resend asked for by hand or a bounce's retry (not the original)."""
    return "|resend|" in key or key.endswith("|retry")


def email_ref(key: str) -> str:
    """A short unique reference carried in the email, by which a later attempt finds it in Sent."""
    return "onb-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]

