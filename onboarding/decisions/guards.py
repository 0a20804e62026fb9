"""Freshness and sanity guards: checks made before anything is sent, on the day an export is
broken in a way validation cannot see.

- **stale source**: an export last changed longer ago than ``max_source_age`` before the run's
  moment (the course software stopped exporting);
- **shrunk completions**: the completion list has fewer rows than the cohort's previous run by
  more than ``max_completion_shrink`` (a partial export);
- **mass cancellation**: the run would cancel more than ``max_cancel_share`` of the cohort.

A tripped guard holds the cohort's sends for the run: decisions are still recorded (outcome
``held``), nothing enters the ledger, the instructor's summary says which guard tripped and why,
and the task fails so the data team sees it. The instructor releases a held run by triggering it
again with the ``release_guards`` param naming the guards (or ``all``); the run records the
release.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from onboarding.cohorts import GuardConfig

GUARDS = ("stale_source", "shrunk_completions", "mass_cancellation")
# What the trigger form shows for each guard (its value stays the name the summary gives).
GUARD_TITLES = {"stale_source": "An export is stale (stale_source)",
                "shrunk_completions": "The completions shrank (shrunk_completions)",
                "mass_cancellation": "Too many cancellations (mass_cancellation)",
                "all": "All guards"}
# What the Onboarding page's Release a hold offers for each guard.
GUARD_LABELS = {"stale_source": "stale export", "shrunk_completions": "completions shrank",
                "mass_cancellation": "too many cancellations"}


@dataclass(frozen=True)
class Trip:
    guard: str
    message: str


def check(cfg: GuardConfig, as_of: dt.datetime, facts: Any, cancellations: int) -> list[Trip]:
    """The guards this run trips, given the facts it loaded (``decisions.run.RunFacts``: its
    inputs' manifests, its customers, the completion export's rows now and at the previous run)
    and how many cancellations it would send. A new guard reads its fact here (a field of
    ``RunFacts``, loaded by ``pipeline.decide.load_facts``) and its limit from ``GuardConfig``."""
    trips = []
    sources, customers = facts.sources, len(facts.customers)
    completions_now, completions_before = facts.completion_rows, facts.completion_rows_before
    if cfg.max_source_age is not None:
        for role, snap in sources.items():
            modified = snap.get("modified_at")
            if modified and as_of - dt.datetime.fromisoformat(modified) > cfg.max_source_age:
                age = as_of - dt.datetime.fromisoformat(modified)
                trips.append(Trip("stale_source", f"the {role} export ({snap['location']}) was last changed "
                                                  f"{age.total_seconds() / 3600:.0f} hours before this run; "
                                                  f"the limit is {cfg.max_source_age.total_seconds() / 3600:.0f}"))
    if (cfg.max_completion_shrink is not None and completions_before
            and completions_now < completions_before * (1 - cfg.max_completion_shrink)):
        trips.append(Trip("shrunk_completions",
                          f"the completion export has {completions_now} rows, {completions_before} at the previous "
                          f"run: it shrank by {1 - completions_now / completions_before:.0%} "
                          f"(limit {cfg.max_completion_shrink:.0%})"))
    if cfg.max_cancel_share is not None and customers and cancellations / customers > cfg.max_cancel_share:
        trips.append(Trip("mass_cancellation",
                          f"this run would cancel {cancellations} of {customers} customers "
                          f"({cancellations / customers:.0%}; limit {cfg.max_cancel_share:.0%})"))
    return trips


def released(param: str | list | None) -> set[str]:
    """The guards a run's ``release_guards`` param releases: names, comma-separated, or 'all'."""
    if not param:
        return set()
    names = param if isinstance(param, list) else str(param).split(",")
    names = {n.strip() for n in names if n.strip()}
    if "all" in names:
        return set(GUARDS)
    unknown = names - set(GUARDS)
    if unknown:
        raise ValueError(f"release_guards: unknown guard(s) {sorted(unknown)}; known: {list(GUARDS)} or 'all'")
    return names
