"""What each run decided: every customer's standing (``customer_status``), the orphan completions,
and every email considered with its outcome and reason (``decisions``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onboarding.times import iso_column

if TYPE_CHECKING:
    import pandas as pd


class Decisions:
    def __init__(self, store):
        self._s = store

    def replace(self, run_id: str, cohort_id: str, statuses: "pd.DataFrame", orphans: list[dict[str, Any]],
                decisions: "pd.DataFrame") -> None:
        """Record a run's decisions, replacing those of an earlier try of the same run.

        ``statuses``: email, name, first_name, consent and language (optional), completed_at, status. ``decisions``: email, kind, outcome,
        reason, email_key, ref."""
        import pandas as pd

        key = {"run_id": run_id, "cohort_id": cohort_id}
        with self._s.transaction() as tx:
            tx.script("delete_run_decisions", key)
            # The columns as they are (no copy, no Python strings made): the bulk load turns a
            # chunk at a time into the driver's values.
            column = {c: statuses[c].array if c in statuses else None for c in ("first_name", "consent", "language")}
            tx.bulk("customer_status", pd.DataFrame({
                **key, "email": statuses["email"].array, "name": statuses["name"].array,
                "completed_at": iso_column(statuses["completed_at"]), "status": statuses["status"].array,
                **column}, copy=False))
            tx.bulk("orphan", pd.DataFrame([{**key, **o} for o in orphans]))
            tx.bulk("decision", decisions.assign(**key))
            tx.analyze()

    def due(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """The emails the run decided are due (or would be, in a dry run), most urgent first."""
        return self._s.rows("due_emails", run_id=run_id, cohort_id=cohort_id)

    def standings(self, run_id: str, cohort_id: str) -> dict[str, str]:
        """email -> standing, as the run recorded it."""
        return {r["email"]: r["status"] for r in self._s.rows("run_customer_status", run_id=run_id, cohort_id=cohort_id)}

    def kinds(self, run_id: str, cohort_id: str) -> set[tuple[str, str]]:
        """(email, kind) of every email the run considered."""
        return {(r["email"], r["kind"]) for r in self._s.rows("run_decided_kinds", run_id=run_id, cohort_id=cohort_id)}
