"""Customer success managers: who looks after whom (issue 13, step 7 of the sample journey).

The roster is the journey's (``csms:`` in the journey file: name, email, capacity, optional
attributes such as language or time zone). A customer entering the CSM stage is assigned once,
and keeps that CSM (sticky), whatever happens to the roster later:

- only CSMs under their capacity are eligible, and, for each attribute named in ``csm_match``
  (say ``language``), only CSMs with the customer's value (a customer without one may have any);
- ``least_loaded`` (default): the eligible CSM with the fewest customers, ties in roster order;
  ``round_robin``: the next eligible CSM in roster order after the one assigned last;
- nobody eligible: the customer waits (the instructor is told), and is assigned on a later night
  when a place frees up or the roster grows.

A pure function of the roster, the assignments already made and the customers to place, taken in
the order they entered the stage (then by address), so a rerun assigns the same.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Sequence

from onboarding.journeys import CSM_METHODS as METHODS, Csm
from onboarding.languages import normalise_language


@dataclass(frozen=True)
class Newcomer:
    email: str
    entered_at: dt.datetime
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Placement:
    assigned: dict[str, str]  # customer -> CSM email, the new assignments only
    waiting: tuple[str, ...]  # customers no CSM could take
    load: dict[str, int]  # CSM email -> customers after this placement


def _matched(key: str, value):
    """An attribute as matching reads it: a language as the emails read it (``DE``, `` de-AT `` and
    ``de`` are one language, so the customer written to in German gets the German-speaking CSM);
    any other attribute as written."""
    return normalise_language(value) if key == "language" else value


def place(roster: Sequence[Csm], existing: Mapping[str, str], newcomers: Sequence[Newcomer],
          method: str = "least_loaded", match: Sequence[str] = (), last_assigned: str | None = None) -> Placement:
    """Assign each newcomer without a CSM yet; ``existing`` (customer -> CSM) stays as it is.
    ``last_assigned`` is the CSM given the most recent customer (for round robin)."""
    if method not in METHODS:
        raise ValueError(f"unknown CSM assignment {method!r}; one of {list(METHODS)}")
    load = {c.email: 0 for c in roster}
    for csm in existing.values():
        load[csm] = load.get(csm, 0) + 1
    order = [c.email for c in roster]
    pointer = order.index(last_assigned) if last_assigned in order else -1
    assigned: dict[str, str] = {}
    waiting: list[str] = []
    for person in sorted(newcomers, key=lambda n: (n.entered_at, n.email)):
        if person.email in existing or person.email in assigned:
            continue
        wants = {k: _matched(k, v) for k, v in person.attributes}
        eligible = [c for c in roster if load[c.email] < c.capacity
                    and all(not wants.get(k) or _matched(k, c.attribute(k)) == wants[k] for k in match)]
        if not eligible:
            waiting.append(person.email)
            continue
        if method == "least_loaded":
            chosen = min(eligible, key=lambda c: (load[c.email], order.index(c.email)))
        else:
            chosen = min(eligible, key=lambda c: (order.index(c.email) - pointer - 1) % len(order))
            pointer = order.index(chosen.email)
        assigned[person.email] = chosen.email
        load[chosen.email] += 1
    return Placement(assigned, tuple(waiting), load)
