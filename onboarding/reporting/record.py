"""The data team's record of each cohort's run: one readable block in the task log (``RUN
SUMMARY``) and the same as a row of ``run_reports``, with the whole record as JSON."""
from __future__ import annotations

import json
import re
from typing import Any

from onboarding.addresses import without_addresses
from onboarding.cohorts import Cohort
from onboarding.reporting.summary import local_time
from onboarding.store import Store


def _error_class(detail: str | None) -> str:
    """An error's kind for counting: 'HTTP 429', 'HTTP 503', 'TimeoutError'... (the text before
    the first ':' or '(' of what the ledger recorded)."""
    text = (detail or "unknown").strip()
    m = re.match(r"(HTTP \d{3}|[A-Za-z_.]+(Error|Exception|Timeout)\b)", text)
    return m.group(1) if m else text.split(":")[0].split("(")[0].strip()[:60] or "unknown"


def run_record(store: Store, cohort: Cohort, run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The data team's record of one cohort's run (``run_reports.record``): counts per decision
    and per email kind, quarantined rows, guards tripped, the email provider's errors."""
    run = data["run"]
    decisions: dict[str, dict[str, int]] = {}
    emails: dict[str, dict[str, int]] = {}
    waiting = failed = 0
    for o in data["outcomes"]:
        per = decisions.setdefault(o["kind"], {})
        per[o["outcome"]] = per.get(o["outcome"], 0) + o["n"]
        if o["outcome"] != "due":
            continue
        status = o["ledger_status"] or "not in ledger"
        per = emails.setdefault(o["kind"], {})
        per[status] = per.get(status, 0) + o["n"]
        if status == "failed":
            failed += o["n"]
        elif status in ("unconfirmed", "claimed", "drafted", "pending"):
            waiting += o["n"]
    errors = store.reports.provider_errors(run_id, cohort.id)
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
        "sent": data["totals"]["sent"], "would_send": data["totals"]["would_send"],
        "waiting": waiting, "failed": failed,
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
        lines.append(f"    {e['event']}: {e['kind']}: {without_addresses(e['error'])}")
    lines.append(f"  GX Data Docs: {rec['data_docs'] or 'not rendered (the run stopped before validation)'}")
    lines.append(f"  record: state database table run_reports (run_id, cohort_id) = "
                 f"({rec['run_id']!r}, {rec['cohort_id']!r})")
    return "\n".join(lines)
