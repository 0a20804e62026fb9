"""What a run did, read back from the state database: for the instructor's summary email, the
task log and the demo's printout. Everything comes from the database, so the report of a run can
be rebuilt at any time from its records."""
from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from onboarding import state
from onboarding.config import Cohort

_PROBLEM_STATES = ("failed", "unconfirmed", "claimed", "drafted", "pending")


def local_time(value: str | None, cohort: Cohort) -> str | None:
    """A stored UTC time as the instructor reads it: in the cohort's zone."""
    if not value:
        return value
    return state.from_iso(value).astimezone(cohort.tz).strftime("%Y-%m-%d %H:%M %Z")


def collect(conn: sa.Connection, cohort: Cohort, run_id: str, failure: str | None = None) -> dict[str, Any]:
    p = {"run_id": run_id, "cohort_id": cohort.id}
    run = (state.rows(conn, "summary_run", **p) or [{}])[0]
    decisions = state.rows(conn, "summary_decisions", **p)
    sent = [d for d in decisions if d["outcome"] == "due" and d["ledger_status"] == "sent" and d["sent_run_id"] == run_id]
    waiting = [d for d in decisions if d["outcome"] == "due" and d["ledger_status"] in _PROBLEM_STATES]
    counts: dict[str, Any] = {f"customers_{r['status']}": r["n"] for r in state.rows(conn, "summary_counts", **p)}
    for d in decisions:
        k = f"{d['kind']}_{d['outcome']}"
        counts[k] = counts.get(k, 0) + 1
    counts["sent_this_run"] = len(sent)
    quarantine = state.rows(conn, "summary_quarantine", **p)
    counts["quarantined_rows"] = len({(q["source"], q["source_row"]) for q in quarantine})
    orphans = state.rows(conn, "summary_orphans", **p)
    counts["orphan_completions"] = len(orphans)
    return {
        "run": run,
        "run_counts": json.loads(run["counts"]) if run.get("counts") else {},
        "failure": failure or (run.get("error") if run.get("status") in ("failed", "held") else None),
        "held": run.get("status") == "held",
        "counts": counts,
        "late": [{**r, "completed_at": local_time(r["completed_at"], cohort)} for r in state.rows(conn, "summary_late", **p)],
        "sent": sent,
        "would_send": [d for d in decisions if d["outcome"] == "would_send"],
        "already": [d for d in decisions if d["outcome"] == "already_sent"],
        "blocked": [d for d in decisions if d["outcome"] in ("blocked", "failed_earlier")],
        "waiting": waiting,
        "quarantine": quarantine,
        "orphans": [{**o, "completed_at": local_time(o["completed_at"], cohort)} for o in orphans],
        "decisions": decisions,
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


def _error_class(detail: str | None) -> str:
    """An error's kind for counting: 'HTTP 429', 'HTTP 503', 'TimeoutError'... (the text before
    the first ':' or '(' of what the ledger recorded)."""
    text = (detail or "unknown").strip()
    m = re.match(r"(HTTP \d{3}|[A-Za-z_.]+(Error|Exception|Timeout)\b)", text)
    return m.group(1) if m else text.split(":")[0].split("(")[0].strip()[:60] or "unknown"


def run_record(conn: sa.Connection, cohort: Cohort, run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data team's record of one cohort's run (``run_reports.record``): counts per decision
    and per email kind, quarantined rows, guards tripped, the email provider's errors."""
    run = data["run"]
    decisions: dict[str, dict[str, int]] = {}
    for d in data["decisions"]:
        per = decisions.setdefault(d["kind"], {})
        per[d["outcome"]] = per.get(d["outcome"], 0) + 1
    emails: dict[str, dict[str, int]] = {}
    sent_now = {(d["kind"], d["email"]) for d in data["sent"]}
    for d in data["decisions"]:
        if d["outcome"] != "due":
            continue
        status = "sent" if (d["kind"], d["email"]) in sent_now else (d["ledger_status"] or "not in ledger")
        per = emails.setdefault(d["kind"], {})
        per[status] = per.get(status, 0) + 1
    errors = state.rows(conn, "run_gmail_errors", run_id=run_id, cohort_id=cohort.id)
    by_class: dict[str, int] = {}
    for e in errors:
        kind = _error_class(e["detail"])
        by_class[kind] = by_class.get(kind, 0) + 1
    guards = json.loads(run.get("guards") or "[]")
    counts = data["counts"]
    return {
        "run_id": run_id, "cohort_id": cohort.id, "as_of": run.get("as_of"), "dry_run": bool(run.get("dry_run")),
        "status": run.get("status") or "not started", "error": data["failure"],
        "customers": {k.removeprefix("customers_"): v for k, v in counts.items() if k.startswith("customers_")},
        "decisions": decisions, "emails": emails,
        "sent": len(data["sent"]), "would_send": len(data["would_send"]),
        "waiting": sum(1 for d in data["waiting"] if d["ledger_status"] != "failed"),
        "failed": sum(1 for d in data["waiting"] if d["ledger_status"] == "failed"),
        "quarantined_rows": counts["quarantined_rows"], "orphan_completions": counts["orphan_completions"],
        "guards": guards,
        "gmail_errors": {"total": len(errors), "by_kind": by_class,
                         "final": [{"kind": e["kind"], "recipient": e["recipient"], "event": e["event"],
                                    "error": e["detail"]} for e in errors if e["event"] != "released"][:50]},
        "data_docs": data["run_counts"].get("data_docs"),
        "validation_results": data["run_counts"].get("validation_results"),
    }


def describe_record(rec: dict[str, Any], cohort: Cohort) -> str:
    """The record as the data team reads it in the task log: one block per cohort per run."""
    def counted(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

    as_of = local_time(rec["as_of"], cohort) if rec["as_of"] else "?"
    lines = [f"RUN SUMMARY cohort {rec['cohort_id']}, run {rec['run_id']}, as of {as_of}: {rec['status']}"
             + (" (dry run)" if rec["dry_run"] else "")]
    if rec["error"]:
        lines.append(f"  error: {rec['error']}")
    lines.append(f"  customers: {counted(rec['customers'])}")
    for kind in sorted(set(rec["decisions"]) | set(rec["emails"])):
        lines.append(f"  {kind}: decided {counted(rec['decisions'].get(kind, {}))}; "
                     f"emails {counted(rec['emails'].get(kind, {}))}")
    lines.append(f"  sent this run {rec['sent']}, waiting {rec['waiting']}, failed {rec['failed']}"
                 + (f", would send {rec['would_send']}" if rec["dry_run"] else ""))
    lines.append(f"  quarantined rows {rec['quarantined_rows']}, orphan completions {rec['orphan_completions']}")
    guards = "; ".join(f"{g['guard']} ({'released' if g.get('released') else 'HELD'}): {g['message']}"
                       for g in rec["guards"])
    lines.append(f"  guards tripped: {guards or 'none'}")
    errs = rec["gmail_errors"]
    lines.append(f"  email provider errors: {errs['total']}"
                 + (f" ({counted(errs['by_kind'])})" if errs["total"] else ""))
    for e in errs["final"][:10]:
        lines.append(f"    {e['event']}: {e['kind']} to {e['recipient']}: {e['error']}")
    lines.append(f"  GX Data Docs: {rec['data_docs'] or 'not rendered (the run stopped before validation)'}")
    lines.append(f"  record: state database table run_reports (run_id, cohort_id) = "
                 f"({rec['run_id']!r}, {rec['cohort_id']!r})")
    return "\n".join(lines)


def save_record(conn: sa.Connection, rec: dict[str, Any]) -> None:
    conn.execute(state.sql("upsert_run_report"), {
        "run_id": rec["run_id"], "cohort_id": rec["cohort_id"], "as_of": rec["as_of"] or "",
        "dry_run": int(rec["dry_run"]), "status": rec["status"], "customers": sum(rec["customers"].values()),
        "emails_sent": rec["sent"], "emails_waiting": rec["waiting"], "emails_failed": rec["failed"],
        "quarantined_rows": rec["quarantined_rows"], "guards_tripped": len(rec["guards"]),
        "gmail_errors": rec["gmail_errors"]["total"], "data_docs": rec["data_docs"],
        "record": json.dumps(rec, sort_keys=True, default=str), "now": state.iso(state.utcnow())})
