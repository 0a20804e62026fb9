"""Every decision of one cohort's run, whatever its journey, from the loaded facts and the run's
parameters: the one decide path.

``decide`` is the decide stage without its input and output: the stage loads the facts from the
state database (``RunFacts``), calls it, and stores what it returns (``Decisions``). It applies,
in order, the same steps to every journey:

1. **refusals**: an empty completion export after the seed's deadline (it would cancel everyone)
   and a resend that makes no sense stop the run before anything is decided;
2. **what the journey calls for** (``Called``): the seed's rules and ledger over the whole cohort
   at once (``seed_called``: the engine's walk once per distinct completion, ``rules.decide_all``),
   any other journey's walk of each customer (``journey_run.walk_all``: CSM placement, the
   emails the timelines call for, approval requests, who waits on a person); an email whose
   first sending bounced softly is due again, once (``_retry_soft_bounces``);
3. **the run's own limits**: the email kinds this run may send (the others are not even decided);
   a dry run marks due emails ``would_send``; a reminder is ``moment_passed`` once its due time
   (the seed's: the deadline) has passed in real time (when the run was asked for, or when it
   decides, whichever is later: a cleared old run or a backfill keeps its old moment, and must
   still not remind anyone after it); the instructor's resend replaces the rules' decision for
   that email; a suppressed address gets no email its entry stops, a marketing email needs
   consent (``decisions.suppression``);
4. **the guards**: a tripped guard that is not released holds every due email (``held``);
5. **the ledger plan**: whether the run enters its due emails in the ledger (not in a dry run,
   not when held), each due email's reference, and the resend's entry with her reason; the store
   then enters them, and supersedes the emails entered earlier but never attempted that are no
   longer due, in one statement each.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from onboarding.cohorts import Cohort
from onboarding.decisions import (CANCELLATION, IN_FLIGHT_STATES, REMINDER, SENT_STATES, Resend, form_kind,
                                  is_seed, rivals)
from onboarding.decisions.facts import (DECISION_COLUMNS, SENDABLE, Called, RunAsk, RunFacts, extras,
                                        ledger_ids)
from onboarding.decisions.guards import Trip, check
from onboarding.decisions.journey_run import walk_all
from onboarding.decisions.rules import seed_called
from onboarding.decisions.suppression import apply as apply_suppressions, require_consent
from onboarding.identity import EmailId, References
from onboarding.journeys import Journey
from onboarding.times import iso

@dataclass(frozen=True)
class Decisions:
    """Every decision of one cohort's run, whatever its journey."""

    statuses: pd.DataFrame  # email, name, first_name, consent, completed_at, status
    decisions: pd.DataFrame  # DECISION_COLUMNS (the reference, when due)
    enter_ledger: bool  # enter the due emails and supersede what is no longer due (not dry, not held)
    trips: list[Trip]  # guards tripped (released or not)
    held: list[Trip]  # guards tripped and not released: nothing is sent
    counts: dict[str, Any]
    supersede_reason: str = ""
    resend: dict[str, Any] | None = None  # the instructor's resend, entered on its own with her reason
    refusal: tuple[str, str] | None = None  # (dataset | resend, message): the run stops, nothing decided
    orphans: list[dict[str, Any]] = field(default_factory=list)  # completions with no signup
    visits: list[dict[str, Any]] = field(default_factory=list)  # per customer and stage visit
    assigned: list[dict[str, Any]] = field(default_factory=list)  # new CSM assignments
    requests: list[Any] = field(default_factory=list)  # approval requests (``decisions.approvals.Request``)
    waiting: list[dict[str, Any]] = field(default_factory=list)  # who waits on a person


def decide(cohort: Cohort, journey: Journey, ask: RunAsk, facts: RunFacts) -> Decisions:
    """One run's decisions for one cohort, the same steps for every journey (the seed's included);
    see the module's docstring for the order."""
    refusal = _refusal(cohort, journey, ask, facts)
    if refusal:
        return Decisions(_empty("email", "name", "first_name", "consent", "completed_at", "status"),
                         _empty(*DECISION_COLUMNS), False, [], [], {}, refusal=refusal)
    called = (seed_called(cohort, journey, ask, facts) if is_seed(journey) else
              walk_all(cohort, journey, ask, facts))
    d = _retry_soft_bounces(called.emails, facts.ledger, cohort.id)
    form = _form_kinds(journey, d["kind"])
    mine = pd.Series(form).isin(ask.kinds).to_numpy(dtype=bool)
    d, form = d[mine].reset_index(drop=True), form[mine]
    if ask.dry_run:
        d.loc[(d["outcome"] == "due").to_numpy(), "outcome"] = "would_send"
    _moment_passed(d, form == REMINDER, max((t for t in (ask.triggered_at, facts.now) if t is not None),
                                              default=None), cohort.tz)
    customers = facts.customers
    d, resend_entry = add_resend(d, customers, ask, cohort.id, facts.refs)
    # The suppression list: a suppressed address gets no email its entry stops (the decision says
    # why, and the summary lists it), a resend included.
    d = apply_suppressions(d, list(facts.suppressions), called.classes, SENDABLE)
    d = require_consent(d, customers, called.classes, SENDABLE, cohort.consent_wording)
    resend_entry = still_sendable(d, resend_entry)

    sendable = d["outcome"].isin(SENDABLE).to_numpy()
    cancelling = _form_kinds(journey, d["kind"]) == CANCELLATION
    trips = check(cohort.guards, ask.as_of, facts, int((sendable & cancelling).sum()))
    held = hold_and_reference(d, trips, ask.release_guards, facts.refs)
    enter = not ask.dry_run and not held
    return Decisions(called.statuses, identity_columns(d), enter, trips, held,
                     _counts(called, d, facts, held), supersede_reason=f"no longer due as of {iso(ask.as_of)}",
                     resend=resend_entry if enter else None, orphans=facts.orphans, visits=called.visits,
                     assigned=called.assigned, requests=called.requests, waiting=called.waiting)


def _moment_passed(d: pd.DataFrame, reminders: np.ndarray, real: dt.datetime | None, tz: dt.tzinfo) -> None:
    """A reminder is ``moment_passed`` once its due time has passed in real time (when the run
    was asked for, or when it decides, whichever is later): a cleared old run or a backfill keeps
    its old moment, and must still not remind anyone after it (in place)."""
    if real is None or not len(d):
        return
    late = reminders & d["outcome"].isin(SENDABLE).to_numpy() & _due_by(d["due_at"], real)
    d.loc[late, "outcome"] = "moment_passed"
    d.loc[late, "reason"] = (f"the deadline had passed when this run was asked for "
                             f"({real.astimezone(tz):%Y-%m-%d %H:%M %Z}); a reminder is never sent after its deadline")


def _form_kinds(journey: Journey, kinds: pd.Series) -> np.ndarray:
    """Each email's trigger-form kind (``form_kind``), worked out once per distinct ledger kind."""
    values = kinds.to_numpy(dtype=object)
    known = {k: form_kind(journey, k) for k in dict.fromkeys(values.tolist())}
    return pd.Series(values, dtype=object).map(known).to_numpy(dtype=object)


def _due_by(due_at: pd.Series, real: dt.datetime) -> np.ndarray:
    """Which due times have passed at ``real`` (no due time: none has)."""
    if not len(due_at):
        return np.zeros(0, dtype=bool)
    at = pd.to_datetime(due_at, utc=True)  # None -> NaT, which has passed no moment
    return (at <= pd.Timestamp(real)).to_numpy(dtype=bool)


def _counts(called: Called, d: pd.DataFrame, facts: RunFacts, held: list[Trip]) -> dict[str, Any]:
    """The run's counts: customers, the journey's own, standings, each kind's outcomes, the
    guards holding it."""
    counts: dict[str, Any] = {"customers": len(facts.customers)}
    for s, n in called.statuses["status"].value_counts(sort=False).items():
        counts[f"status_{s}"] = int(n)
    for (kind, outcome), n in d.groupby(["kind", "outcome"], sort=False).size().items():
        counts[f"{kind}_{outcome}"] = int(n)
    counts.update(called.counts)
    if held:
        counts["held_by_guards"] = list(dict.fromkeys(t.guard for t in held))
    return counts


def hold_and_reference(d: pd.DataFrame, trips: list[Trip], released: tuple[str, ...], refs: References | None
                       ) -> list[Trip]:
    """Hold every sendable decision when a tripped guard is not released (the decisions stay on
    record, marked held; nothing enters the ledger), then give each email still sendable its
    reference (in place; the ledger keeps the one an email got when first entered). Returns the
    guards that hold the run."""
    held = [t for t in trips if t.guard not in released]
    if held:
        sendable = d["outcome"].isin(SENDABLE).to_numpy()
        d.loc[sendable, "outcome"] = "held"
        d.loc[sendable, "reason"] = "held by a guard: " + "; ".join(t.message for t in held)
    sendable = d["outcome"].isin(SENDABLE).to_numpy()
    if sendable.any() and refs is None:
        raise ValueError("emails are due but no reference secret was loaded (store.ledger.references())")
    ids = [i if s else None for i, s in zip(d["id"].tolist(), sendable.tolist())]
    d["ref"] = pd.Series(refs.many(ids) if refs is not None else ids, index=d.index, dtype=object)
    return held


def identity_columns(d: pd.DataFrame) -> pd.DataFrame:
    """The decisions as recorded: each email's identity (the ``id`` column, an ``EmailId``) in the
    columns the decisions table stores."""
    ids = d["id"].tolist()
    d = d.copy()
    # EmailId.columns(), column by column (a night has a million identities).
    d["email_key"] = pd.Series([i.key for i in ids], index=d.index, dtype=object)
    d["stage"] = pd.Series([i.stage for i in ids], index=d.index, dtype=object)
    d["visit"] = pd.Series([int(i.visit) for i in ids], index=d.index, dtype=object)
    d["resend_run_id"] = pd.Series([i.resend_run_id for i in ids], index=d.index, dtype=object)
    d["retry"] = pd.Series([int(i.retry) for i in ids], index=d.index, dtype=object)
    return d[list(DECISION_COLUMNS)]


def held_message(held: list[Trip]) -> str:
    """What the instructor reads about a held run, with how to release it."""
    names = list(dict.fromkeys(t.guard for t in held))
    return ("held by guard(s), nothing sent: " + "; ".join(f"{t.guard}: {t.message}" for t in held)
            + ". If the exports are right, release it: the cohort's Onboarding page, Release a hold, or the"
            " trigger form's Release guards: " + ", ".join(names))


def _refusal(cohort: Cohort, journey: Journey, ask: RunAsk, facts: RunFacts) -> tuple[str, str] | None:
    n = len(facts.customers)
    if (is_seed(journey) and n and not facts.completion_rows_staged and ask.as_of >= cohort.deadline_at):
        location = cohort.completions.location
        # Say what is true: an empty export, or one whose every row was quarantined (the summary lists them).
        what = (f"none of the completion export's {facts.completion_rows} row(s) could be used (all quarantined)"
                if facts.completion_rows else "the completion export has no records")
        return "dataset", (f"{location}: {what}; refusing to cancel all {n} customers on it. Check the export "
                           f"and rerun.")
    # A rival (a welcome after a cancellation) exists only where the journey makes one exclusive.
    return resend_refusal(cohort.id, ask.resend, facts.customers, facts.ledger, rivals(journey) if is_seed(journey) else {})


def resend_refusal(cohort_id: str, r: Resend | None, customers: pd.DataFrame, ledger: pd.DataFrame,
                   exclusive: dict[str, tuple[str, ...]] | None = None) -> tuple[str, str] | None:
    """Why the instructor's resend cannot be done, or None: the customer must be in this run's
    exports, the email must have gone out to them before, and no rival email (a welcome after a
    cancellation) may have."""
    if r is None:
        return None
    if not (customers["email"] == r.email).any():
        return "resend", f"resend: {r.email} is not a customer of cohort {cohort_id} in this run's exports"
    mine = dict(ledger.loc[(ledger["recipient"] == r.email).to_numpy() & ~extras(ledger),
                           ["kind", "status"]].itertuples(index=False))
    if mine.get(r.kind) not in SENT_STATES:
        return "resend", (f"resend: no {r.kind} went out to {r.email} before (ledger: {mine.get(r.kind) or 'none'}); "
                          f"a resend only sends again an email that was sent. Rerun without resend to send what "
                          f"is due")
    rival = next((k for k in (exclusive or {}).get(r.kind, ()) if mine.get(k) in SENT_STATES + IN_FLIGHT_STATES), None)
    if rival:
        return "resend", f"resend: {r.email} was sent a {rival} ({mine[rival]}); a {r.kind} would contradict it"
    return None


def add_resend(d: pd.DataFrame, customers: pd.DataFrame, ask: RunAsk, cohort_id: str, refs: References | None
               ) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The instructor's resend (checked by ``resend_refusal``) as a decision of its own, an email
    of its own (``EmailId.resend``); it replaces whatever the rules decided for that email this run."""
    r = ask.resend
    if r is None:
        return d, None
    if refs is None:
        raise ValueError("a resend needs the reference secret (store.ledger.references())")
    email = EmailId.of(cohort_id, r.email, r.kind).resend(ask.run_id)
    name = customers.loc[customers["email"] == r.email, "name"].iloc[0]
    d = pd.concat([d[~((d["email"] == r.email) & (d["kind"] == r.kind))], pd.DataFrame([{
        "email": r.email, "name": name, "kind": r.kind, "outcome": "would_send" if ask.dry_run else "due",
        "reason": f"resend asked for: {r.reason}", "id": email}])], ignore_index=True)
    return d, {**email.columns(), "ref": refs(email), "recipient_name": name, "reason": r.reason}


def still_sendable(d: pd.DataFrame, entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """The resend's ledger entry, unless suppression or consent stopped it."""
    if entry is not None and not d.loc[(d["id"] == EmailId.from_row(entry)).to_numpy(dtype=bool),
                                       "outcome"].isin(SENDABLE).any():
        return None
    return entry


def _retry_soft_bounces(d: pd.DataFrame, ledger: pd.DataFrame, cohort_id: str) -> pd.DataFrame:
    """An email the rules still call for whose first sending bounced softly (a full mailbox, a
    server down) is due again, once, as its retry (``EmailId.retried``); a retry that went out (or
    bounced too) is not retried again."""
    if "bounce" not in ledger or d.empty:
        return d
    soft_rows = (ledger["status"] == "bounced").to_numpy() & (ledger["bounce"] == "soft").to_numpy()
    if not soft_rows.any():
        return d
    soft = set(ledger_ids(ledger[soft_rows], cohort_id))
    retries = ledger[extras(ledger)]
    states = dict(zip(ledger_ids(retries, cohort_id), retries["status"].tolist()))
    again = [n for n, (i, o) in enumerate(zip(d["id"].tolist(), d["outcome"].tolist()))
             if i in soft and o == "already_sent" and states.get(i.retried()) in (None, "pending")]
    if again:
        d = d.copy()
        d.loc[again, "id"] = pd.Series([i.retried() for i in d.loc[again, "id"]], index=again, dtype=object)
        d.loc[again, "outcome"] = "due"
        d.loc[again, "reason"] = "the first sending bounced (soft: the mailbox could not take it then); sent again once"
    return d


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
