"""What the instructor and the data team read back about a run: counts, decisions with where the
ledger stands on each, the late list, quarantine, orphans, the email log, the provider's errors,
and the data team's record of each run (``run_reports``)."""
from __future__ import annotations

import json
from typing import Any

from onboarding.times import iso, utcnow


class Reports:
    def __init__(self, store):
        self._s = store

    def _q(self, name: str, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows(name, run_id=run_id, cohort_id=cohort_id)

    def standing_counts(self, run_id: str, cohort_id: str) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self._q("summary_counts", run_id, cohort_id)}

    def decisions(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Every email the run considered, with the customer's name and the ledger's state of it now."""
        return self._q("summary_decisions", run_id, cohort_id)

    def late(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Customers not (yet) on time as of the run."""
        return self._q("summary_late", run_id, cohort_id)

    def quarantine(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._q("summary_quarantine", run_id, cohort_id)

    def orphans(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._q("summary_orphans", run_id, cohort_id)

    def undelivered_summaries(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Summaries of the cohort's earlier runs that did not go out."""
        return self._q("summary_undelivered", run_id, cohort_id)

    def status_table(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Every customer's standing with the emails each has been sent (the instructor's status tab)."""
        return self._q("report_status", run_id, cohort_id)

    def email_log(self, cohort_id: str) -> list[dict[str, Any]]:
        """Every customer email of the cohort the ledger knows, sent or not."""
        return self._s.rows("report_emails", cohort_id=cohort_id)

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
