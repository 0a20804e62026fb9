"""What one cohort's run decides on, and what its journey calls for: the types the one decide
path (``decisions.run.decide``) shares with the journeys' own parts (``rules.seed_called``,
``journey_run.walk_all``), and the ledger's identities they all read."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from onboarding.cohorts import Cohort
from onboarding.consent import Suppression
from onboarding.decisions import Resend, is_seed
from onboarding.identity import EmailId, References
from onboarding.journeys import Journey

SENDABLE = ("due", "would_send")
# Each decision's email by its identity's columns (``identity.EmailId``), its key and reference.
DECISION_COLUMNS = ("email", "kind", "outcome", "reason", "email_key", "ref", "stage", "visit", "resend_run_id", "retry")


class RunAsk(Protocol):
    """What a run asks for (``onboarding.run.RunContext`` is one)."""

    run_id: str
    as_of: dt.datetime
    dry_run: bool
    kinds: tuple[str, ...]
    release_guards: tuple[str, ...]
    triggered_at: dt.datetime | None
    resend: Resend | None


def _no_ledger() -> pd.DataFrame:
    return pd.DataFrame({"email_key": [], "recipient": [], "kind": [], "status": []}, dtype=object)


@dataclass(frozen=True)
class RunFacts:
    """What the decide stage loaded for one cohort's run, whatever its journey (a fact the
    journey does not read stays empty)."""

    customers: pd.DataFrame  # email, name, first_name, consent, completed_at (UTC, NaT when none), held
    signed_up: dict[str, dt.datetime] = field(default_factory=dict)  # email -> first signup time
    events: list[dict[str, Any]] = field(default_factory=list)  # email, event, at (ISO), value, link
    approvals: list[dict[str, Any]] = field(default_factory=list)  # recorded decisions (store rows)
    assignments: list[dict[str, Any]] = field(default_factory=list)  # CSM assignments so far (store rows)
    ledger: pd.DataFrame = field(default_factory=_no_ledger)  # the cohort's ledger: identity columns, status, bounce
    sources: dict[str, dict] = field(default_factory=dict)  # input manifests, by role
    now: dt.datetime | None = None  # the clock when the facts were loaded (real time, not the run's moment)
    suppressions: tuple[Suppression, ...] = ()  # who must not be emailed (the list, and the cohort file's)
    roster: tuple[Any, ...] | None = None  # the run's CSM roster from the cohort's export (None: the journey's)
    refs: References | None = None  # the deployment's reference maker (due emails get theirs from it)
    # Every event name the cohort's exports ever carried by the moment (None: not known, none assumed missing).
    seen_events: frozenset[str] | None = None
    orphans: list[dict[str, Any]] = field(default_factory=list)  # completions with no signup
    completion_rows_staged: int = 0  # validated completion rows
    # The run's counts as its stages recorded them (``runs.counts``: each export's rows, valid or
    # not, the quarantined rows...), and the same of the cohort's previous run that was not held
    # (None: no such run). A guard on a figure reads it here.
    counts: dict[str, Any] = field(default_factory=dict)
    counts_before: dict[str, Any] | None = None

    @property
    def completion_rows(self) -> int:
        """The completion export's rows (valid or not)."""
        return int(self.counts.get("completion_rows") or 0)

    @property
    def completion_rows_before(self) -> int | None:
        """The same at the cohort's previous run (None: not known)."""
        return None if self.counts_before is None else self.counts_before.get("completion_rows")


@dataclass(frozen=True)
class Called:
    """What a journey calls for this run, before the run's own limits: each customer's standing,
    each email the journey's rules and the ledger decide (``CALLED_COLUMNS``), the counts only
    this journey has, and what its run writes beside the decisions."""

    statuses: pd.DataFrame  # email, name, first_name, consent, completed_at, status
    emails: pd.DataFrame  # CALLED_COLUMNS
    classes: dict[str, str]  # each ledger kind's class (transactional, marketing)
    counts: dict[str, Any] = field(default_factory=dict)
    visits: list[dict[str, Any]] = field(default_factory=list)
    assigned: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)


# An email called for: its identity (``id``, an ``EmailId``) and the instant after which a
# reminder of it is never sent (its stage's due time; the seed's: the cohort's deadline).
CALLED_COLUMNS = ("email", "name", "kind", "outcome", "reason", "id", "due_at")


def classes_of(cohort: Cohort, journey: Journey) -> dict[str, str]:
    """Each ledger kind's class (transactional or marketing): the seed's kinds are their own
    names; a journey's ``<stage>:<kind>`` take the class of the kind's own name."""
    return cohort.email_classes if is_seed(journey) else email_classes(journey, cohort.email_classes)


def email_classes(journey: Journey, classes: dict[str, str]) -> dict[str, str]:
    """Each ledger kind of a journey (``<stage>:<kind>``)'s class, from the cohort's classes by the
    kind's own name (default: transactional)."""
    return {f"{s.id}:{k}": classes.get(k, classes.get(k.split("_")[0], "transactional"))
            for s, k in journey.email_kinds()}


def extras(ledger: pd.DataFrame) -> "np.ndarray":
    """Which ledger rows are not an email's original, by their columns: resends asked for by hand
    and bounce retries (emails of their own)."""
    extra = np.zeros(len(ledger), dtype=bool)
    if "resend_run_id" in ledger:
        extra |= ledger["resend_run_id"].fillna("").astype(str).ne("").to_numpy(dtype=bool)
    if "retry" in ledger:
        extra |= ledger["retry"].fillna(0).astype(int).ne(0).to_numpy(dtype=bool)
    return extra


def ledger_ids(ledger: pd.DataFrame, cohort_id: str) -> list[EmailId]:
    """Each ledger row's email identity, from its columns."""
    return [EmailId.from_row({**r, "cohort_id": cohort_id}) for r in ledger.to_dict("records")]
