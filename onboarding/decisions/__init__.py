"""Decisions: who stands where as of a run's moment, which email each customer is due, and whether
the run may send at all. Pure functions of the loaded facts and the run's parameters (never of
the wall clock), so a rerun of the same moment decides the same.

``rules``: the business rules per customer (vectorised over a cohort). ``run``: one run's every
decision, from the rules, the ledger and the run's parameters. ``guards``: the checks that hold a
run whose exports look wrong. This module holds the vocabulary they share; it imports nothing
heavy, so the DAG file may read ``KINDS`` when Airflow parses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboarding.journeys import SEED, Journey

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
# soft bounce is sent again once, as an email of its own: ``identity.EmailId.retried``).
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


def journey_of(cohort: Any) -> Journey:
    """The journey a cohort's customers go through (``cohorts.Cohort.journey_spec``; a cohort built
    without one: the seed)."""
    return cohort.journey_spec or SEED


def is_seed(journey: Journey) -> bool:
    """The built-in seed journey, the course cohort's (``Journey.is_seed``)."""
    return journey.is_seed
