"""The business rules of the seed journey: who stands where, and which email is due, as of one
moment. The standings and the due kinds are the journey engine's (``decisions.journey.walk`` over
``journeys.SEED``, the one engine every journey goes through); this module adds the ledger (what
went out before) over a whole cohort at a time.

Everything here is a pure function of the cohort's configuration, the customers' reconciled
records and ``as_of`` (the run's own time, never the wall clock), so a rerun of the same date
decides the same. The rules are written once, over a whole cohort at a time (a table of
customers); ``standing``, ``due_kinds`` and ``decide`` ask them about one customer.

- On time: completed at or before the deadline (end of the deadline date in the cohort's zone,
  plus any grace period).
- Reminder: to a customer not yet complete, at runs from N days before the deadline date up to
  the deadline; a late signup inside that window still gets one.
- Cancellation: to a customer not on time, at the first run after the deadline.
- Welcome: to a customer on time, at the first run after the deadline, or, with
  ``welcome_timing: on_completion``, at the first run after they complete.
- Nobody gets both a cancellation and a welcome; nobody gets anything while held (a completion
  row naming them was quarantined); nobody gets a reminder once their cancellation or welcome
  went out (a rerun of an earlier night cannot send one).
- Each (cohort, customer, kind) is sent at most once, ever: the ledger enforces it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from onboarding.cohorts import Cohort
from onboarding.identity import EmailId
from onboarding.languages import languages_of
from onboarding.journeys import CANCELLATION, COMPLETE, REMINDER, Journey
from onboarding.decisions.facts import CALLED_COLUMNS, Called, RunAsk, RunFacts, classes_of, extras
from onboarding.decisions import (COMPLETED_LATE, HELD, IN_FLIGHT_STATES, MISSED, ON_TIME, PENDING, SENT_STATES,
                                  ends_reminders, journey_of, rivals)


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
    outcome: str  # due, already_sent, blocked, failed_earlier, moment_passed
    reason: str

    @property
    def due(self) -> bool:
        return self.outcome == "due"


CUSTOMER_COLUMNS = ("email", "name", "completed_at", "held")


def customer_frame(customers: list[Customer]) -> pd.DataFrame:
    """Customers as the table the rules read: email, name, completed_at (UTC), held."""
    return pd.DataFrame({
        "email": pd.Series([c.email for c in customers], dtype=object),
        "name": pd.Series([c.name for c in customers], dtype=object),
        "completed_at": pd.to_datetime(pd.Series([c.completed_at for c in customers], dtype=object), utc=True),
        "held": pd.Series([bool(c.held) for c in customers], dtype=bool)})


def customers_of(frame: pd.DataFrame) -> list[Customer]:
    """The table's rows as ``Customer`` records (no completion: ``None``)."""
    return [Customer(r.email, r.name, None if pd.isna(r.completed_at) else r.completed_at.to_pydatetime(), bool(r.held))
            for r in frame.itertuples(index=False)]


def walk_seed(customers: pd.DataFrame, cohort: Cohort, as_of: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's standing and the kind of the (last) email due ('' for none), before the
    ledger: ``seed_emails`` one row per customer (the built-in seed calls for one email at most)."""
    status, who, kind, _ = seed_emails(customers, cohort, as_of)
    last = np.full(len(customers), "", dtype=object)
    last[who] = kind
    return status, last


def seed_emails(customers: pd.DataFrame, cohort: Cohort, as_of: dt.datetime
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's standing (held, on time, completed late, pending, missed) and the emails
    due before the ledger, as (standings, the customer of each email (row number), its kind, the
    walk's reason): the seed journey (``journey_of(cohort)``, ``onboarding.journeys.SEED``) walked
    by the journey engine, as every journey is. Customers with the same facts have the same
    timeline, so each distinct (completion, held) is walked once."""
    from onboarding.decisions.journey import Attempt, Facts, Settings, evidence_key, walk

    journey = journey_of(cohort)
    settings = Settings(cohort.deadline_at, cohort.reminder_window_start, cohort.tz,
                        complete_emails_at_due=cohort.welcome_timing == "after_deadline")
    key = evidence_key(journey.stages[0])
    n = len(customers)
    if not n:
        return np.empty(0, dtype=object), np.empty(0, dtype=int), np.empty(0, dtype=object), np.empty(0, dtype=object)
    # Each distinct (completion, held) once: its code, then the walk of each.
    t_code, t_values = pd.factorize(customers["completed_at"])  # no completion: -1
    held = customers["held"].to_numpy(dtype=bool)
    pairs, inverse = np.unique((t_code.astype(np.int64) + 1) * 2 + held, return_inverse=True)
    times = pd.DatetimeIndex(t_values).to_pydatetime() if len(t_values) else []
    standings, flat_kind, flat_reason, counts = [], [], [], []
    for pair in pairs.tolist():
        code, h = pair // 2 - 1, bool(pair % 2)
        completed = times[code] if code >= 0 else None
        timeline = walk(journey, Facts(None, {key: (Attempt(completed),)} if completed else {}, held=h), as_of,
                        settings)
        standings.append(_seed_standing(timeline))
        counts.append(len(timeline.emails))
        flat_kind += [e.kind for e in timeline.emails]
        flat_reason += [e.reason for e in timeline.emails]
    status = np.array(standings, dtype=object)[inverse]
    # Each customer's emails, in customer order: their pair's emails, taken from the flat lists.
    per_pair = np.array(counts, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(per_pair)[:-1]))
    lengths = per_pair[inverse]
    who = np.repeat(np.arange(n), lengths)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    at = np.repeat(starts[inverse], lengths) + (np.arange(len(who)) - first)
    kind = np.array(flat_kind, dtype=object)[at] if len(at) else np.empty(0, dtype=object)
    reason = np.array(flat_reason, dtype=object)[at] if len(at) else np.empty(0, dtype=object)
    return status, who, kind, reason


def _seed_standing(timeline: Any) -> str:
    """A seed journey's timeline in the standings' words."""
    if timeline.standing == "held":
        return HELD
    if timeline.standing == "done":
        return ON_TIME
    if timeline.standing == "cancelled":
        return COMPLETED_LATE if timeline.visits[-1].outcome == "completed_late" else MISSED
    return PENDING


def _with_reasons(customers: pd.DataFrame, status: np.ndarray, who: np.ndarray, kind: np.ndarray,
                  walked: np.ndarray, cohort: Cohort) -> np.ndarray:
    """Each due email's reason, in the instructor's words, by what the email does (its stage's
    role; the late's completion time in UTC); an email on entering keeps the walk's."""
    stage = journey_of(cohort).stages[0]
    role = pd.Series(kind, dtype=object).map({k: stage.role(k) for k in set(kind.tolist())}).to_numpy(dtype=object)
    late = status[who] == COMPLETED_LATE if len(who) else np.zeros(0, dtype=bool)
    late_reason = np.full(len(who), "", dtype=object)
    if late.any():
        when = customers["completed_at"].iloc[who[late]].dt.strftime("%Y-%m-%d %H:%M")
        late_reason[late] = ("completed after the deadline (" + when + " UTC)").to_numpy()
    cancelling = role == CANCELLATION
    conditions = [role == REMINDER, cancelling & ~late, cancelling & late, role == COMPLETE]
    return np.select(conditions, [
        f"not complete; reminder window opened {cohort.reminder_window_start:%Y-%m-%d %H:%M %Z}",
        "no completion by the deadline", late_reason, "completed on time"], walked).astype(object)


def decide_all(customers: pd.DataFrame, cohort: Cohort, as_of: dt.datetime, ledger: pd.DataFrame
               ) -> tuple[np.ndarray, pd.DataFrame]:
    """The rules, then the ledger, for every customer: (standings, decisions).

    ``ledger`` holds the cohort's emails so far (``recipient``, ``kind``, ``status``). An email
    already sent (or possibly sent) is not sent again; a welcome is blocked once a cancellation
    went out, and the reverse (``decisions.rivals``), so a late correction to an export cannot give
    a customer both; a reminder's moment has passed once either went out.
    The decisions table has one row per email the rules call for: email, name, kind, outcome,
    reason.
    """
    journey = journey_of(cohort)
    status, who, kind, walked = seed_emails(customers, cohort, as_of)
    reason = _with_reasons(customers, status, who, kind, walked, cohort)
    d = pd.DataFrame({"email": customers["email"].to_numpy()[who], "name": customers["name"].to_numpy()[who],
                      "kind": kind, "reason": reason})
    known = ledger.loc[:, ["recipient", "kind", "status"]].rename(columns={"recipient": "email"})
    own = d.merge(known, on=["email", "kind"], how="left")["status"].to_numpy(dtype=object)
    rival_kind, rival = _rival_sent(d, known, rivals(journey))
    sent = pd.Series(own).isin(SENT_STATES).to_numpy()
    failed = own == "failed"
    blocked = rival_kind != ""
    ended = _ending(d, known, ends_reminders(journey))
    d["outcome"] = np.select([sent, failed, ended != "", blocked],
                             ["already_sent", "failed_earlier", "moment_passed", "blocked"], "due")
    kinds = d["kind"].to_numpy(dtype=object)
    d["reason"] = np.select(
        [sent, failed, ended != "", blocked],
        [kinds + " " + own.astype(str) + " earlier",
         "refused for good by the mail provider earlier; see the ledger",
         "no reminder after the customer's " + ended + " went out",
         "a " + rival_kind + " was already " + rival + " for this customer; needs the instructor"],
        d["reason"].to_numpy(dtype=object)).astype(object)
    return status, d


def _rival_sent(d: pd.DataFrame, known: pd.DataFrame, rival_kinds: dict[str, tuple[str, ...]]
                ) -> tuple[np.ndarray, np.ndarray]:
    """For each email, the first of its rivals that went out to that customer (or may have, or is
    being sent), and its ledger status ('' for none)."""
    kind, status = np.full(len(d), "", dtype=object), np.full(len(d), "", dtype=object)
    taken = known[known["status"].isin(SENT_STATES + IN_FLIGHT_STATES)]
    for i in range(max(map(len, rival_kinds.values()), default=0)):
        candidate = d["kind"].map(lambda k: rival_kinds.get(k, ())[i] if i < len(rival_kinds.get(k, ())) else None)
        found = pd.DataFrame({"email": d["email"], "kind": candidate}).merge(
            taken, on=["email", "kind"], how="left")["status"].to_numpy(dtype=object)
        first = (kind == "") & pd.notna(found)
        kind[first], status[first] = candidate.to_numpy(dtype=object)[first], found[first]
    return kind, status


def _ending(d: pd.DataFrame, known: pd.DataFrame, ending: tuple[str, ...]) -> np.ndarray:
    """For each reminder, the cancellation or welcome (``ending``) that already went out (or may
    have) to that customer ('' when none): after it, a reminder is wrong."""
    out = np.full(len(d), "", dtype=object)
    reminders = (d["kind"] == REMINDER).to_numpy()
    if not reminders.any():
        return out
    gone = known[known["kind"].isin(ending) & known["status"].isin(SENT_STATES + IN_FLIGHT_STATES)]
    if gone.empty:
        return out
    first = gone.sort_values("kind").drop_duplicates("email").set_index("email")["kind"]
    ended = d["email"].map(first).fillna("").to_numpy(dtype=object)
    out[reminders] = ended[reminders]
    return out


def standing(customer: Customer, cohort: Cohort, as_of: dt.datetime) -> str:
    return str(walk_seed(customer_frame([customer]), cohort, as_of)[0][0])


def due_kinds(customer: Customer, cohort: Cohort, as_of: dt.datetime) -> list[tuple[str, str]]:
    """The kinds of email the rules call for at ``as_of``, each with the reason, before the ledger."""
    frame = customer_frame([customer])
    status, who, kind, walked = seed_emails(frame, cohort, as_of)
    reason = _with_reasons(frame, status, who, kind, walked, cohort)
    return [(str(k), str(r)) for k, r in zip(kind, reason)]


def decide(customer: Customer, cohort: Cohort, as_of: dt.datetime, ledger: dict[str, str]) -> list[Decision]:
    """The rules, then the ledger, for one customer: ``ledger`` maps their kinds to a status."""
    known = pd.DataFrame({"recipient": [customer.email] * len(ledger), "kind": list(ledger),
                          "status": list(ledger.values())}, dtype=object)
    _, d = decide_all(customer_frame([customer]), cohort, as_of, known)
    return [Decision(r.email, r.name, r.kind, r.outcome, r.reason) for r in d.itertuples(index=False)]


def seed_called(cohort: Cohort, journey: Journey, ask: RunAsk, facts: RunFacts) -> Called:
    """What the seed journey calls for: its walk (``rules.seed_emails``: the engine's, once per
    distinct completion) and the ledger's rules, over the whole cohort at once."""
    customers, ledger = facts.customers, facts.ledger
    status, d = decide_all(customers, cohort, ask.as_of, ledger[~extras(ledger)])
    d["id"] = pd.Series([EmailId(cohort.id, e, k) for e, k in zip(d["email"].tolist(), d["kind"].tolist())],
                        dtype=object)
    d["due_at"] = cohort.deadline_at
    statuses = pd.DataFrame({"email": customers["email"], "name": customers["name"],
                             "first_name": customers["first_name"] if "first_name" in customers else None,
                             "consent": customers["consent"] if "consent" in customers else None,
                             # The language their emails are written in (its variant when one exists).
                             "language": languages_of(customers["attributes"])
                             if "attributes" in customers else None,
                             "completed_at": customers["completed_at"], "status": status})
    return Called(statuses, d[list(CALLED_COLUMNS)], classes_of(cohort, journey), {"orphans": len(facts.orphans)})
