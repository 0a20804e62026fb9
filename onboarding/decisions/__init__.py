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

from onboarding.journeys import CANCELLATION, COMPLETE, ENTER, REMINDER, SEED, Journey

# The seed journey's email kinds, from its definition (``journeys.SEED``): the resend choices of a
# course cohort, its status tab's columns.
KINDS = SEED.ledger_kinds()
# The trigger form's email kinds: what an email does, whatever its journey calls it: its reminders,
# its cancellations, ``welcome`` for the emails sent on completing a stage (the seed's welcome is
# one) and ``stage`` for those sent on entering one (a verification, a details form, a CSM's
# introduction).
_FORM_KIND = {REMINDER: REMINDER, CANCELLATION: CANCELLATION, COMPLETE: "welcome", ENTER: "stage"}  # by role
FORM_KINDS = tuple(_FORM_KIND.values())
# A journey email's ledger kind, ``<stage>:<kind>`` (what the trigger form's resend names).
JOURNEY_KIND = r"[a-z0-9][a-z0-9_-]{0,62}:[a-z0-9][a-z0-9_-]{0,62}"
# Ledger states after which a key counts as taken by an earlier run (a bounced email went out; a
# soft bounce is sent again once, as an email of its own: ``identity.EmailId.retried``).
SENT_STATES = ("sent", "unconfirmed", "bounced")
# A rival email being sent right now may already have gone out; one merely pending has not.
IN_FLIGHT_STATES = ("claimed", "drafted")

ON_TIME, COMPLETED_LATE, PENDING, MISSED, HELD = "on_time", "completed_late", "pending", "missed", "held"


def form_kind(journey: Journey, kind: str) -> str:
    """Which of the trigger form's email kinds (``FORM_KINDS``) a ledger kind is, by what it does
    in its stage (``Stage.role``; a journey's kinds are ``<stage>:<kind>``, the seed's name no
    stage); a kind no stage sends counts as ``stage``."""
    stage_id, _, own = kind.rpartition(":")
    roles = [s.role(own) for s in journey.stages if s.id == (stage_id or s.id)]
    return _FORM_KIND.get(next((r for r in roles if r), ENTER))


def form_kinds(journey: Journey) -> tuple[str, ...]:
    """The trigger form's email kinds a journey's cohort can send at all (the seed: no ``stage``)."""
    mine = {form_kind(journey, k) for k in journey.ledger_kinds()}
    return tuple(k for k in FORM_KINDS if k in mine)


def rivals(journey: Journey) -> dict[str, tuple[str, ...]]:
    """The seed journey's emails that contradict each other: nobody gets both a cancellation and
    an email on completing (its welcome); kind -> the kinds it must not follow."""
    completing = journey.kinds_by_role(COMPLETE)
    return {CANCELLATION: completing, **{k: (CANCELLATION,) for k in completing}}


def ends_reminders(journey: Journey) -> tuple[str, ...]:
    """A reminder makes no sense once the customer's cancellation or completing email (the seed's
    welcome) went out, or may have."""
    return (CANCELLATION, *journey.kinds_by_role(COMPLETE))


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
