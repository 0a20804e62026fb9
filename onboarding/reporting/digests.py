"""Who waits on a person, told to them (issue 13: the CSMs' and the instructor's daily digests;
issue 28: each team's, on its cadence).

After a journey cohort's run: each CSM gets one digest email listing their customers waiting on
them (approvals of their stages, overdue stages escalated to them, open queries), and the
instructor's nightly summary gets the same for her (approvals of her stages, customers waiting
for a CSM with room, anything escalated to her, queries open too long). Sent through the ledger,
one per CSM per run: a retry of the report sends none twice.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from onboarding.journeys import Journey
from onboarding.times import from_iso

WHY = {"awaiting_approval": "waits for your approval", "waiting_for_csm": "waits for a CSM with room",
       "overdue": "is overdue", "stuck": "was rejected too often", "open_query": "has a query open"}
SHOWN = 200  # lines listed in one digest (the rest are counted)


@dataclass(frozen=True)
class Digest:
    recipient: str  # the CSM's address, or 'instructor'
    name: str
    lines: tuple[dict[str, Any], ...]  # each: who, email, what, since (local text), link

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            out[line["standing"]] = out.get(line["standing"], 0) + 1
        return out


TEAM = "team:"  # a team's digest's key: ``team:<name>``


def digests(rows: list[dict[str, Any]], csm_names: dict[str, str], tz: dt.tzinfo,
            stage_titles: dict[str, str], journey: Journey | None = None) -> dict[str, Digest]:
    """The run's waiting rows (``store.journeys.waiting``) as one digest per person they wait on:
    ``instructor`` and each CSM's address; and one per team of the journey (``team:<name>``)
    listing what waits on it: its approvals, and whoever waits at a stage it owns (a copy: the
    CSM or the instructor an escalation goes to hears of it too); open queries are the team's that
    answers them (``queries: {owner: ...}``) as a stage is its owner's: escalated, a copy stays
    in the team's digest."""
    out: dict[str, list[dict[str, Any]]] = {}
    teams = {t.name for t in journey.teams} if journey else set()
    owners = {s.id: s.owner for s in journey.stages} if journey else {}
    queries_owner = journey.queries.owner if journey and journey.queries else None
    for r in rows:
        mine = {r["waits_on"]} & teams
        # A query's item is its link, not a stage: its owner is the journey's queries owner.
        owner = queries_owner if r["standing"] == "open_query" else owners.get(r["item"] or "")
        if owner in teams:
            mine.add(owner)
        if r["waits_on"] in teams:  # a team's approval waits on the team alone
            whos = [TEAM + t for t in sorted(mine)]
        else:
            whos = [r["csm_email"] if r["waits_on"] == "csm" and r["csm_email"] else "instructor",
                    *(TEAM + t for t in sorted(mine))]
        for who in whos:
            _line(out, who, r, tz, stage_titles)
    named = {TEAM + t.name: f"{t.shown} team" for t in journey.teams} if journey else {}
    return {who: Digest(who, "the instructor" if who == "instructor" else named.get(who) or csm_names.get(who, who),
                        tuple(lines)) for who, lines in out.items()}


def team_counts(found: dict[str, Digest], journey: Journey) -> list[tuple[str, int]]:
    """Each team of the journey and how many customer items wait on it tonight (none: 0)."""
    return [(t.shown, len(found[TEAM + t.name].lines) if TEAM + t.name in found else 0) for t in journey.teams]


def _line(out: dict[str, list[dict[str, Any]]], who: str, r: dict[str, Any], tz: dt.tzinfo,
          stage_titles: dict[str, str]) -> None:
    """One waiting row as a line of ``who``'s digest."""
    since = f"{from_iso(r['since']).astimezone(tz):%a %d %b}" if r.get("since") else ""
    item = r["item"] or ""
    is_link = item.startswith("https://")
    what = WHY.get(r["standing"], r["standing"]) + ("" if is_link or not item else
                                                     f": {stage_titles.get(item, item)}")
    out.setdefault(who, []).append({"who": r.get("name") or r["email"], "email": r["email"], "what": what,
                                    "standing": r["standing"], "since": since,
                                    "link": item if is_link else None, "escalated": bool(r["escalated"])})


def needs_lines(digest: Digest | None, approvals_url: str | None) -> list[str]:
    """The instructor's share, as lines of her summary's 'What needs you'."""
    if digest is None:
        return []
    c = digest.counts
    where = f" ({approvals_url})" if approvals_url else ""
    out = []
    if c.get("awaiting_approval"):
        out.append(f"{c['awaiting_approval']} customer(s) wait for your approval: answer tonight's request in Airflow, "
                   f"Browse > Required Actions{where}. Those you leave wait for tomorrow's list.")
    if c.get("waiting_for_csm"):
        out.append(f"{c['waiting_for_csm']} customer(s) wait for a customer success manager: every CSM who may take "
                   "them is at capacity. Add a CSM to the roster or raise a capacity.")
    if c.get("overdue") or c.get("stuck"):
        out.append(f"{c.get('overdue', 0) + c.get('stuck', 0)} customer(s) are overdue at a stage escalated to you, "
                   "or were rejected too often (listed below).")
    if c.get("open_query"):
        out.append(f"{c['open_query']} customer query(ies) open too long or without a CSM (listed below).")
    return out
