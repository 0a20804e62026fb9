"""Who waits on a person, told to them (issue 13: the CSMs' and the instructor's daily digests).

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


def digests(rows: list[dict[str, Any]], csm_names: dict[str, str], tz: dt.tzinfo,
            stage_titles: dict[str, str]) -> dict[str, Digest]:
    """The run's waiting rows (``store.journeys.waiting``) as one digest per person they wait on:
    ``instructor`` and each CSM's address."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        who = r["csm_email"] if r["waits_on"] == "csm" and r["csm_email"] else "instructor"
        since = f"{from_iso(r['since']).astimezone(tz):%a %d %b}" if r.get("since") else ""
        item = r["item"] or ""
        is_link = item.startswith("https://")
        what = WHY.get(r["standing"], r["standing"]) + ("" if is_link or not item else
                                                         f": {stage_titles.get(item, item)}")
        out.setdefault(who, []).append({"who": r.get("name") or r["email"], "email": r["email"], "what": what,
                                        "standing": r["standing"], "since": since,
                                        "link": item if is_link else None, "escalated": bool(r["escalated"])})
    return {who: Digest(who, "the instructor" if who == "instructor" else csm_names.get(who, who), tuple(lines))
            for who, lines in out.items()}


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
