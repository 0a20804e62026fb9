"""What a run did, read back from the state database: for the instructor's summary email, the
task log and the demo's printout. Everything comes from the database, so the report of a run can
be rebuilt at any time from its records."""
from __future__ import annotations

import json
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.store import Store
from onboarding.store.reports import LIST_LIMIT
from onboarding.times import from_iso

_PROBLEM_STATES = ("failed", "unconfirmed", "claimed", "drafted", "pending")
LISTS = ("sent", "would_send", "waiting", "blocked")


def local_time(value: str | None, cohort: Cohort) -> str | None:
    """A stored UTC time as the instructor reads it: in the cohort's zone."""
    if not value:
        return value
    return from_iso(value).astimezone(cohort.tz).strftime("%Y-%m-%d %H:%M %Z")


def collect(store: Store, cohort: Cohort, run_id: str, failure: str | None = None,
            limit: int = LIST_LIMIT) -> dict[str, Any]:
    """Everything the instructor's summary says about one cohort's run: counts from aggregates,
    and the first ``limit`` people of each list (``totals`` says how many there are in all)."""
    run = store.runs.get(run_id, cohort.id)
    outcomes = store.reports.email_counts(run_id, cohort.id)
    counts: dict[str, Any] = {f"customers_{s}": n for s, n in store.reports.standing_counts(run_id, cohort.id).items()}
    totals = dict.fromkeys((*LISTS, "already", "late", "quarantine", "orphans"), 0)
    by_kind: dict[str, dict[str, int]] = {c: {} for c in LISTS}
    for o in outcomes:
        k = f"{o['kind']}_{o['outcome']}"
        counts[k] = counts.get(k, 0) + o["n"]
        category = _category(o, run_id)
        if category:
            totals[category] += o["n"]
            if category in by_kind:
                by_kind[category][o["kind"]] = by_kind[category].get(o["kind"], 0) + o["n"]
    counts["sent_this_run"] = totals["sent"]
    counts["quarantined_rows"] = store.reports.quarantine_count(run_id, cohort.id)
    counts["orphan_completions"] = totals["orphans"] = store.reports.orphan_count(run_id, cohort.id)
    totals["late"] = sum(counts.get(f"customers_{s}", 0) for s in ("pending", "missed", "completed_late", "held"))
    totals["quarantine"] = counts["quarantined_rows"]
    lists: dict[str, list[dict[str, Any]]] = {c: [] for c in LISTS}
    for r in store.reports.email_lists(run_id, cohort.id, limit):
        lists[r["category"]].append(r)
    return {
        "run": run,
        "run_counts": json.loads(run["counts"]) if run.get("counts") else {},
        "failure": failure or (run.get("error") if run.get("status") in ("failed", "held") else None),
        "held": run.get("status") == "held",
        "counts": counts,
        "totals": totals,
        "by_kind": by_kind,
        "outcomes": outcomes,
        "late": [{**r, "completed_at": local_time(r["completed_at"], cohort)}
                 for r in store.reports.late(run_id, cohort.id, limit)],
        **lists,
        "quarantine": store.reports.quarantine(run_id, cohort.id, limit),
        "orphans": [{**o, "completed_at": local_time(o["completed_at"], cohort)}
                    for o in store.reports.orphans(run_id, cohort.id, limit)],
        "undelivered": [{**u, "created_at": local_time(u["created_at"], cohort)}
                        for u in store.reports.undelivered_summaries(run_id, cohort.id)],
        "list_limit": limit,
    }


def _category(o: dict[str, Any], run_id: str) -> str | None:
    """Which list of the summary an email count belongs to (as summary_emails.sql sorts them)."""
    if o["outcome"] == "due" and o["ledger_status"] == "sent" and o["sent_now"]:
        return "sent"
    if o["outcome"] == "would_send":
        return "would_send"
    if o["outcome"] in ("blocked", "failed_earlier"):
        return "blocked"
    if o["outcome"] == "due" and o["ledger_status"] in _PROBLEM_STATES:
        return "waiting"
    if o["outcome"] == "already_sent":
        return "already"
    return None


def one_line(cohort: Cohort, data: dict[str, Any]) -> str:
    """The run in one line, for logs and the demo."""
    c = data["counts"]
    if data["failure"]:
        return f"{cohort.id}: FAILED, nothing sent: {data['failure']}"
    standing = ", ".join(f"{k.removeprefix('customers_')} {v}" for k, v in sorted(c.items())
                         if k.startswith("customers_"))
    parts = [f"{cohort.id}: {standing or 'no customers'}"]
    for kind in ("reminder", "cancellation", "welcome"):
        sent = data["by_kind"]["sent"].get(kind, 0)
        would = data["by_kind"]["would_send"].get(kind, 0)
        if sent or would:
            parts.append(f"{kind}s {'sent' if sent else 'would send'} {sent or would}")
    if data["totals"]["waiting"]:
        parts.append(f"waiting/failed {data['totals']['waiting']}")
    if data["totals"]["blocked"]:
        parts.append(f"blocked {data['totals']['blocked']}")
    parts.append(f"quarantined rows {c['quarantined_rows']}, orphans {c['orphan_completions']}")
    return "; ".join(parts)
