"""What the instructor and the data team read back about a run: counts, the first names of each
list, the late list, quarantine, orphans, the email log, the provider's errors, and the data
team's record of each run (``run_reports``).

At any size: counts come from aggregates, the summary's lists are capped (``list_limit``), and the
instructor's full tables are read in chunks (``table``), never all at once.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from onboarding.store import db
from onboarding.times import iso, utcnow

LIST_LIMIT = 50  # people named per list in the summary; the full lists are in the report CSVs
CHUNK = 20_000  # rows per chunk of a full table


class Reports:
    def __init__(self, store):
        self._s = store

    def _q(self, name: str, run_id: str, cohort_id: str, **extra: Any) -> list[dict[str, Any]]:
        return self._s.rows(name, run_id=run_id, cohort_id=cohort_id, **extra)

    def standing_counts(self, run_id: str, cohort_id: str) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self._q("summary_counts", run_id, cohort_id)}

    def email_counts(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Emails the run considered, counted by kind, outcome, ledger state and sent by this run."""
        return self._q("summary_email_counts", run_id, cohort_id)

    def email_lists(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The first ``limit`` people of each kind in each list (``category``: sent, would_send,
        waiting, blocked), with the ledger's state of their email."""
        return self._q("summary_emails", run_id, cohort_id, list_limit=limit)

    def late(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The first customers not (yet) on time as of the run."""
        return self._q("summary_late", run_id, cohort_id, list_limit=limit)

    def quarantine(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._q("summary_quarantine", run_id, cohort_id, list_limit=limit)

    def quarantine_count(self, run_id: str, cohort_id: str) -> int:
        """Export rows the run quarantined (a row with two problems counts once)."""
        return self._s.scalar("summary_quarantine_count", run_id=run_id, cohort_id=cohort_id)

    def orphans(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._q("summary_orphans", run_id, cohort_id, list_limit=limit)

    def orphan_count(self, run_id: str, cohort_id: str) -> int:
        return self._s.scalar("summary_orphans_count", run_id=run_id, cohort_id=cohort_id)

    def undelivered_summaries(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Summaries of the cohort's earlier runs that did not go out."""
        return self._q("summary_undelivered", run_id, cohort_id)

    def table(self, name: str, run_id: str, cohort_id: str) -> tuple[int, Iterator[list[dict[str, Any]]]]:
        """One of the instructor's full tables (``status``, ``emails``, ``quarantine``): how many
        rows, and the rows in chunks, streamed from the database."""
        params = {"run_id": run_id, "cohort_id": cohort_id}
        total = self._s.scalar(f"report_{name}_count", **params)

        def chunks() -> Iterator[list[dict[str, Any]]]:
            with self._s.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(
                    db.sql(f"report_{name}"), params)
                for part in result.mappings().partitions(CHUNK):
                    yield [dict(r) for r in part]

        return total, chunks()

    def provider_errors(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Every refusal or failure the email provider gave during the run, oldest first."""
        return self._q("run_gmail_errors", run_id, cohort_id)

    def save(self, rec: dict[str, Any]) -> None:
        """The data team's record of one cohort's run: one row, rewritten by a retry."""
        self._s.execute("upsert_run_report", {
            "run_id": rec["run_id"], "cohort_id": rec["cohort_id"], "as_of": rec["as_of"] or "",
            "dry_run": int(rec["dry_run"]), "status": rec["status"], "customers": sum(rec["customers"].values()),
            "emails_sent": rec["sent"], "emails_waiting": rec["waiting"], "emails_failed": rec["failed"],
            "quarantined_rows": rec["quarantined_rows"], "guards_tripped": len(rec["guards"]),
            "gmail_errors": rec["gmail_errors"]["total"], "data_docs": rec["data_docs"],
            "record": json.dumps(rec, sort_keys=True, default=str), "now": iso(utcnow())})
