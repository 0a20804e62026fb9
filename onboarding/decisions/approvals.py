"""Approvals by a person, batched (issue 13, steps 6, 11 and 19): one request per cohort, stage
and night listing everyone waiting on that stage's approver, and the approver's answer turned
into recorded decisions.

The request is shaped for Airflow's human-in-the-loop operator (``HITLOperator`` with
``multiple=True``): each waiting customer is one option ("Ann Lee <ann@x.org>"), ticked to
approve; the ``reject`` field takes one line per customer to reject, ``address: reason``. A
customer neither ticked nor rejected stays waiting (the next night's request lists them again),
so an unanswered or partial answer blocks nobody else. Both functions are pure: the request from
the timelines the engine walked, the decisions from the answer.
"""
from __future__ import annotations

import datetime as dt
import string
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping

from onboarding.decisions.journey import Approval, Timeline
from onboarding.journeys import Journey

MAX_LISTED = 500  # one request lists at most this many (the rest wait for the next night's)
# Airflow's form asks for at least one option: an approver who only rejects (or decides nobody
# tonight) picks this one, offered beside the customers; it decides nothing.
NOBODY = "(approve nobody tonight)"


@dataclass(frozen=True)
class Waiting:
    email: str
    name: str
    submitted_at: dt.datetime | None
    score: float | None
    evidence_link: str | None = None


@dataclass(frozen=True)
class Request:
    cohort_id: str
    stage: str
    approver: str  # instructor | csm
    subject: str
    head: str  # Markdown: what to do, and the header of the table of who waits
    options: tuple[str, ...]  # one per waiting customer
    people: tuple[Waiting, ...]
    # Each customer's row of the table (what they submitted, a link to the evidence), in the order
    # of ``people``: kept with the customer, so an erasure takes them out of the request whole.
    lines: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The request as the approver reads it: the head, then one table row per customer."""
        return "\n".join((self.head, *self.lines))

    def email_of(self, option: str) -> str:
        return self.people[self.options.index(option)].email


def requests(journey: Journey, cohort_id: str, timelines: Mapping[str, tuple[str, Timeline]], tz: dt.tzinfo,
             links: Mapping[str, str] | None = None) -> list[Request]:
    """One request per stage with customers waiting on its approval (``timelines``: email ->
    (name, timeline)), customers in the order they completed the stage."""
    by_stage: dict[str, list[Waiting]] = {}
    for email, (name, timeline) in timelines.items():
        # The visit waiting on its approver: the last one, or, side by side, any member's (one
        # waiting blocks no other member); a visit answered since is no longer waiting.
        for visit in timeline.visits:
            if visit.outcome != "awaiting_approval" or timeline.standing in ("cancelled", "rejected", "held"):
                continue
            by_stage.setdefault(visit.stage, []).append(
                Waiting(email, name, visit.completed_at, visit.score, (links or {}).get(email) or visit.link))
    out = []
    for stage_id, people in by_stage.items():
        stage = journey.stage(stage_id)
        people = sorted(people, key=lambda w: (w.submitted_at or dt.datetime.max.replace(tzinfo=dt.timezone.utc),
                                               w.email))[:MAX_LISTED]
        rows = []
        for w in people:
            when = f"{w.submitted_at.astimezone(tz):%a %d %b %H:%M}" if w.submitted_at else ""
            score = "" if w.score is None else f"{w.score:g}"
            rows.append(f"| {_cell(w.name)} &lt;{_cell(w.email)}&gt; | {when} | {score} | {_evidence(w.evidence_link)} |")
        body = (f"{len(people)} customer(s) of cohort {_cell(cohort_id)} wait for your approval of "
                f"**{_cell(stage.title)}**. "
                "Tick those you approve. To reject someone, add a line `address: reason` under *Reject* "
                "(they are told the reason and try the stage again). Anyone left as is waits for tomorrow's "
                "list.\n\n| customer | submitted | score | evidence |\n|---|---|---|---|")
        options = tuple(_option(w) for w in people)
        out.append(Request(cohort_id, stage_id, stage.approval_by or "instructor",
                           f"{cohort_id}: approve {stage.title} ({len(people)} waiting)", body, options, tuple(people),
                           tuple(rows)))
    return out


@dataclass(frozen=True)
class CustomerApproval:
    """A recorded decision and whose it is."""

    email: str
    approval: Approval


def decisions(request: Request, chosen: list[str], params_input: Mapping[str, Any], responded_by: str,
              responded_at: dt.datetime) -> tuple[list[CustomerApproval], list[str]]:
    """The approver's answer as recorded decisions, and the problems with it (an option or a line
    that names nobody waiting, someone both ticked and rejected, a rejection without a reason):
    what has a problem decides nothing, the rest stands."""
    chosen = [o for o in chosen if o != NOBODY]
    problems = [f"{o!r} is not one of the customers listed" for o in chosen if o not in request.options]
    approved = {request.email_of(o) for o in chosen if o in request.options}
    waiting = {w.email for w in request.people}
    rejected: dict[str, str] = {}
    for number, line in enumerate(str(params_input.get("reject") or "").splitlines(), 1):
        if not line.strip():
            continue
        address, sep, reason = line.partition(":")
        address, reason = address.strip().lower(), " ".join(reason.split())
        if address not in waiting:
            problems.append(f"reject line {number}: {address or line.strip()!r} is not waiting on this approval")
        elif not sep or not reason:
            problems.append(f"reject line {number}: {address}: give the reason after a colon")
        elif address in approved:
            problems.append(f"reject line {number}: {address} is also ticked as approved; neither is recorded")
            approved.discard(address)
        else:
            rejected[address] = reason[:500]
    out = [CustomerApproval(w.email, Approval(request.stage, "approved", responded_at, responded_by))
           for w in request.people if w.email in approved]
    out += [CustomerApproval(e, Approval(request.stage, "rejected", responded_at, responded_by, r))
            for e, r in rejected.items()]
    return out, problems


def approval_rows(decided: list[CustomerApproval]) -> list[dict[str, Any]]:
    """Decisions as the state database keeps them."""
    from onboarding.times import iso

    return [{"email": d.email, "stage": d.approval.stage, "decision": d.approval.decision,
             "decided_at": iso(d.approval.at), "decided_by": d.approval.by, "reason": d.approval.reason or None}
            for d in decided]


def _option(w: Waiting) -> str:
    # Airflow shows options as plain text (a select's labels), never as Markdown; one line, no
    # control characters, so a name cannot fake a second option or hide the address.
    return f"{' '.join(''.join(c if c.isprintable() else ' ' for c in w.name).split())[:80]} <{w.email}>"


# Every ASCII punctuation character may be backslash-escaped in CommonMark/GFM, and escaped it is
# plain text: no emphasis, link, image, HTML tag, entity, table pipe, or autolink (www., https://,
# an address) can start from customer data.
_ACTIVE = frozenset(string.punctuation)


def _cell(text: str) -> str:
    """Customer text as plain text in a Markdown table cell: every Markdown-active character
    escaped, one line, at most 120 characters (cut before escaping, so no escape is cut in two)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())[:120]
    return "".join("\\" + c if c in _ACTIVE else c for c in flat)


# What a link's target keeps as is (letters and digits too); everything else is percent-encoded,
# brackets, parentheses, angle brackets, backslashes, quotes, spaces and '*' included.
_LINK_SAFE = "/?#@!$&+,;=:%-.~"


def _evidence(link: str | None) -> str:
    """The evidence as the approver reads it: an http(s) address becomes a link named "open"
    (its host shown as text beside it) whose target is percent-encoded, so nothing in it can close
    the link or open another; anything else is shown as escaped text, never a link or an image."""
    if not link:
        return ""
    text = str(link).strip()
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        parts = None
    if (parts and parts.scheme.lower() in ("http", "https") and parts.hostname and len(text) <= 2000
            and all(c.isprintable() and not c.isspace() for c in text)):
        target = urllib.parse.quote(text, safe=_LINK_SAFE)
        return f"[open](<{target}>) {_cell(parts.hostname)}"
    return _cell(text)
