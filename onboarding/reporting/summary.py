"""What a run did, read back from the state database: for the instructor's summary email, the
task log and the demo's printout. Everything comes from the database, so the report of a run can
be rebuilt at any time from its records."""
from __future__ import annotations

import json
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.store import Store
from onboarding.times import from_iso

_PROBLEM_STATES = ("failed", "unconfirmed", "claimed", "drafted", "pending")


def local_time(value: str | None, cohort: Cohort) -> str | None:
    """A stored UTC time as the instructor reads it: in the cohort's zone."""
    if not value:
        return value
    return from_iso(value).astimezone(cohort.tz).strftime("%Y-%m-%d %H:%M %Z")


def collect(store: Store, cohort: Cohort, run_id: str, failure: str | None = None) -> dict[str, Any]:
    """Everything the instructor's summary says about one cohort's run."""
    run = store.runs.get(run_id, cohort.id)
    decisions = store.reports.decisions(run_id, cohort.id)
    sent = [d for d in decisions if d["outcome"] == "due" and d["ledger_status"] == "sent" and d["sent_run_id"] == run_id]
    waiting = [d for d in decisions if d["outcome"] == "due" and d["ledger_status"] in _PROBLEM_STATES]
    counts: dict[str, Any] = {f"customers_{s}": n for s, n in store.reports.standing_counts(run_id, cohort.id).items()}
    for d in decisions:
        k = f"{d['kind']}_{d['outcome']}"
        counts[k] = counts.get(k, 0) + 1
    counts["sent_this_run"] = len(sent)
    quarantine = store.reports.quarantine(run_id, cohort.id)
    counts["quarantined_rows"] = len({(q["source"], q["source_row"]) for q in quarantine})
    orphans = store.reports.orphans(run_id, cohort.id)
    counts["orphan_completions"] = len(orphans)
    return {
        "run": run,
        "run_counts": json.loads(run["counts"]) if run.get("counts") else {},
        "failure": failure or (run.get("error") if run.get("status") in ("failed", "held") else None),
        "held": run.get("status") == "held",
        "counts": counts,
        "late": [{**r, "completed_at": local_time(r["completed_at"], cohort)} for r in store.reports.late(run_id, cohort.id)],
        "sent": sent,
        "would_send": [d for d in decisions if d["outcome"] == "would_send"],
        "already": [d for d in decisions if d["outcome"] == "already_sent"],
        "blocked": [d for d in decisions if d["outcome"] in ("blocked", "failed_earlier")],
        "waiting": waiting,
        "quarantine": quarantine,
        "orphans": [{**o, "completed_at": local_time(o["completed_at"], cohort)} for o in orphans],
        "decisions": decisions,
        "undelivered": [{**u, "created_at": local_time(u["created_at"], cohort)}
                        for u in store.reports.undelivered_summaries(run_id, cohort.id)],
    }


def one_line(cohort: Cohort, data: dict[str, Any]) -> str:
    """The run in one line, for logs and the demo."""
    c = data["counts"]
    if data["failure"]:
        return f"{cohort.id}: FAILED, nothing sent: {data['failure']}"
    standing = ", ".join(f"{k.removeprefix('customers_')} {v}" for k, v in sorted(c.items())
                         if k.startswith("customers_"))
    parts = [f"{cohort.id}: {standing or 'no customers'}"]
    for kind in ("reminder", "cancellation", "welcome"):
        sent = sum(1 for d in data["sent"] if d["kind"] == kind)
        would = sum(1 for d in data["would_send"] if d["kind"] == kind)
        if sent or would:
            parts.append(f"{kind}s {'sent' if sent else 'would send'} {sent or would}")
    if data["waiting"]:
        parts.append(f"waiting/failed {len(data['waiting'])}")
    if data["blocked"]:
        parts.append(f"blocked {len(data['blocked'])}")
    parts.append(f"quarantined rows {c['quarantined_rows']}, orphans {c['orphan_completions']}")
    return "; ".join(parts)
