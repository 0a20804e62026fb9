"""``journey_visits`` and ``approvals``: each customer's visits to each stage as a run saw them,
and every approval or rejection with its author. Rows in, rows out: the decisions turn them into
timelines and back (``decisions.journey.visit_rows``, ``decisions.approvals.approval_rows``)."""
from __future__ import annotations

from typing import Any

from onboarding.times import iso, utcnow


class JourneyTables:
    def __init__(self, store):
        self._s = store

    def replace_visits(self, run_id: str, cohort_id: str, rows: list[dict[str, Any]]) -> int:
        """Write a run's visits (``visit_rows``), replacing what an earlier try wrote."""
        with self._s.transaction() as tx:
            tx.execute("journey_visits_delete", {"run_id": run_id, "cohort_id": cohort_id})
            tx.execute("journey_visit_insert", [{**r, "run_id": run_id, "cohort_id": cohort_id} for r in rows])
        return len(rows)

    def visits(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows("journey_visits_of_run", run_id=run_id, cohort_id=cohort_id)

    def record_approvals(self, cohort_id: str, rows: list[dict[str, Any]], request: str | None = None) -> int:
        """Record the approver's decisions (``approval_rows``); the same answer again adds nothing."""
        now = iso(utcnow())
        return self._s.execute("approval_record", [{**r, "cohort_id": cohort_id, "request": request, "now": now}
                                                   for r in rows])

    def approvals(self, cohort_id: str) -> list[dict[str, Any]]:
        """Every decision recorded for the cohort, by customer, oldest first."""
        return self._s.rows("approvals_of_cohort", cohort_id=cohort_id)
