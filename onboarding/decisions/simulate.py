"""What a journey will do to one customer, night by night, if nothing else changes: the nightly
run's own decide path (``decisions.run.decide``) called once per nightly moment, with what the
earlier simulated nights did carried over as the nightly run carries it in its state database.

Nothing here decides anything of its own. Each night:

- the facts are the nightly run's (``RunFacts``, as ``facts_at(moment)`` gives them: the rows
  known at that moment, read as the decide stage reads them);
- plus what the earlier simulated nights did: every email they sent is in the ledger as ``sent``
  (so each email goes once, a second visit's has its own key), every CSM they placed is an
  assignment (sticky, counted in the CSM's load), and, when ``answer`` says so, the approvals the
  approver gave to the requests those nights made;
- the run is asked for at its own moment, sends every kind, and releases the guards: a guard
  (a stale export, a mass cancellation) looks at the whole cohort's exports on the night, which
  a simulation of one customer cannot know, so it assumes they look right.

Whatever ``decide`` calls ``due`` that night is what the night sends; what it calls for and does
not send (too old, suppressed, no consent) is listed with its reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import pandas as pd

from onboarding.cohorts import Cohort
from onboarding.decisions import FORM_KINDS, Resend
from onboarding.decisions.facts import RunFacts
from onboarding.decisions.guards import GUARDS
from onboarding.decisions.run import decide
from onboarding.identity import EmailId, References
from onboarding.journeys import Journey
from onboarding.times import iso

ENDED = ("done", "cancelled", "rejected")  # a journey's standings after which nothing more happens
APPROVER = "simulated approver"  # who answers the requests when the simulation approves them
ANSWERED_AFTER = dt.timedelta(hours=1)  # a simulated answer comes this long after the night's request
# The ledger's columns a night's sent email is kept in (``store.ledger.states``'s).
_LEDGER = ("email_key", "recipient", "kind", "stage", "visit", "resend_run_id", "retry", "per_run_id", "status",
           "bounce")


@dataclass(frozen=True)
class Ask:
    """A nightly run as the schedule asks for it: at its moment, every kind, nothing resent."""

    run_id: str
    as_of: dt.datetime
    dry_run: bool = False
    kinds: tuple[str, ...] = FORM_KINDS
    release_guards: tuple[str, ...] = GUARDS
    triggered_at: dt.datetime | None = None
    resend: Resend | None = None


@dataclass(frozen=True)
class Email:
    """An email the night's run calls for: ``outcome`` ``due`` is sent that night."""

    kind: str  # the ledger's kind, <stage>:<kind>
    outcome: str
    reason: str


@dataclass(frozen=True)
class Night:
    """One nightly run's decisions for the customer."""

    moment: dt.datetime  # the run's moment (its ``as_of``)
    stage: str | None  # where she is after the run (None: the journey ended, or she is not signed up yet)
    standing: str  # the journey's standing (in_stage, overdue, awaiting_approval...), or not_signed_up
    waits_on: str | None = None  # instructor or csm, when she waits on a person
    sent: tuple[str, ...] = ()  # the ledger kinds the run sends her
    not_sent: tuple[Email, ...] = ()  # called for, not sent (too old, suppressed, no consent...)
    csm: str | None = None  # the CSM the run placed her with ("Name <address>")
    asked: str | None = None  # the approver the run asked about her (instructor, or the CSM's address)

    def where(self) -> str:
        """Her place and standing in words (``details: awaiting approval, waits on the instructor``)."""
        if self.stage is None:
            return self.standing.replace("_", " ")
        return (f"{self.stage}: {self.standing.replace('_', ' ')}"
                + (f", waits on the {self.waits_on}" if self.waits_on else ""))

    def what(self) -> list[str]:
        """What the night's run does about her, in words: placed, asked, sent, not sent and why."""
        out = []
        if self.csm:
            out.append(f"placed with {self.csm}")
        if self.asked:
            out.append(f"asks the {self.asked} for approval" if self.asked in ("instructor", "csm")
                       else f"asks {self.asked} for approval")
        if self.sent:
            out.append("sends " + ", ".join(self.sent))
        out += [f"does not send {e.kind} ({e.outcome.replace('_', ' ')}: {e.reason})" for e in self.not_sent]
        return out

    @property
    def ended(self) -> bool:
        return self.standing in ENDED

    def same_as(self, other: "Night") -> bool:
        """Nothing new this night: the same place, standing and approver asked, nothing sent, nobody placed."""
        return (not (self.sent or self.not_sent or self.csm)
                and (self.stage, self.standing, self.waits_on, self.asked)
                == (other.stage, other.standing, other.waits_on, other.asked))


def simulate(cohort: Cohort, journey: Journey, facts_at: Callable[[dt.datetime], RunFacts], email: str,
             moments: Iterable[dt.datetime], answer: str | None = None) -> list[Night]:
    """The nightly runs at ``moments`` (in order) as they would decide for ``email``, each with
    what the nights before sent and placed; stops after the night her journey ends. ``answer``:
    ``approve`` answers every approval request that lists her, an hour after its night (None:
    only the decisions already in the facts count)."""
    sent: list[dict] = []
    placed: list[dict] = []
    answered: list[dict] = []
    refs = References("simulation-only-references-" * 2)  # references appear in no simulated line
    nights: list[Night] = []
    for n, moment in enumerate(moments, 1):
        base = facts_at(moment)
        if not (base.customers["email"] == email).any():
            nights.append(Night(moment, None, "not_signed_up"))
            continue
        facts = replace(base, ledger=_with(base.ledger, sent), assignments=[*base.assignments, *placed],
                        approvals=[*base.approvals, *answered], now=None, refs=refs)
        d = decide(cohort, journey, Ask(f"simulated-night-{n}", moment, triggered_at=moment), facts)
        if d.refusal:
            raise ValueError(f"the nightly run of {iso(moment)} would refuse to run: {d.refusal[1]}")
        due = d.decisions[(d.decisions["outcome"] == "due").to_numpy()]
        sent += [{**EmailId.from_row({**r, "cohort_id": cohort.id}).columns(), "status": "sent", "bounce": None}
                 for r in due.to_dict("records")]
        placed += [{**a, "run_id": f"simulated-night-{n}"} for a in d.assigned]
        asked = next((r.approver for r in d.requests if any(w.email == email for w in r.people)), None)
        if answer == "approve":
            answered += [{"email": w.email, "stage": r.stage, "decision": "approved",
                          "decided_at": iso(moment + ANSWERED_AFTER), "decided_by": APPROVER, "reason": None}
                         for r in d.requests for w in r.people]
        night = _night(d, email, moment, asked)
        nights.append(night)
        if night.ended:
            break
    return nights


def _with(ledger: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """The facts' ledger with the simulated nights' sent emails (theirs win: sent is final)."""
    if not rows:
        return ledger
    mine = pd.DataFrame(rows, columns=list(_LEDGER), dtype=object)
    kept = ledger[~ledger["email_key"].isin(mine["email_key"]).to_numpy()] if len(ledger) else ledger
    return pd.concat([kept, mine], ignore_index=True) if len(kept) else mine


def _night(d, email: str, moment: dt.datetime, asked: str | None) -> Night:
    """Her line of a night's decisions."""
    status = str(d.statuses.loc[(d.statuses["email"] == email).to_numpy(), "status"].iloc[0])
    stage, _, standing = status.rpartition(": ")
    waits = [w for w in d.waiting if w["email"] == email and w["standing"] != "open_query"]
    mine = d.decisions[(d.decisions["email"] == email).to_numpy()]
    sent = tuple(mine.loc[(mine["outcome"] == "due").to_numpy(), "kind"])
    not_sent = tuple(Email(k, o, r) for k, o, r in mine[["kind", "outcome", "reason"]].itertuples(index=False)
                     if o not in ("due", "already_sent"))
    csm = next((f"{a['csm_name']} <{a['csm_email']}>" for a in d.assigned if a["email"] == email), None)
    return Night(moment, stage or None, standing, waits[0]["waits_on"] if waits else None, sent, not_sent, csm, asked)


def nightly_moments(first: dt.date, last: dt.date, tz: dt.tzinfo, run_time: dt.time) -> list[dt.datetime]:
    """The nightly runs' moments from the night of ``first`` to that of ``last``: ``run_time`` in
    the nightly schedule's zone ``tz`` each day (the Dag's cron), as UTC instants."""
    days = (last - first).days
    return [dt.datetime.combine(first + dt.timedelta(days=i), run_time, tz).astimezone(dt.timezone.utc)
            for i in range(days + 1)]


def first_night(moment: dt.datetime, tz: dt.tzinfo, run_time: dt.time) -> dt.date:
    """The date of the first nightly run at or after ``moment`` (in the schedule's zone)."""
    local = moment.astimezone(tz)
    day = local.date()
    return day if dt.datetime.combine(day, run_time, tz) >= local else day + dt.timedelta(days=1)
