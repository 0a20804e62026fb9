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
            tx.execute("journey_visit_insert", [{"link": None, "stage_order": None, "evidence_done": None,
                                                 "evidence_of": None, **r, "run_id": run_id, "cohort_id": cohort_id}
                                                for r in rows])
        return len(rows)

    def visits(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows("journey_visits_of_run", run_id=run_id, cohort_id=cohort_id)

    def record_approvals(self, cohort_id: str, rows: list[dict[str, Any]], request: str | None = None) -> int:
        """Record the approver's decisions (``approval_rows``); the same answer again adds nothing."""
        now = iso(utcnow())
        return self._s.execute("approval_record", [{**r, "cohort_id": cohort_id, "request": request, "now": now}
                                                   for r in rows])

    def replace_waiting(self, run_id: str, cohort_id: str, rows: list[dict[str, Any]]) -> int:
        """Write who waits on a person after the run (``decisions.journey_run``'s ``waiting``)."""
        with self._s.transaction() as tx:
            tx.execute("journey_waiting_delete", {"run_id": run_id, "cohort_id": cohort_id})
            tx.execute("journey_waiting_insert", [{**r, "run_id": run_id, "cohort_id": cohort_id} for r in rows])
        return len(rows)

    def waiting(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows("journey_waiting_of_run", run_id=run_id, cohort_id=cohort_id)

    def csm_assignments(self, cohort_id: str) -> list[dict[str, Any]]:
        """Who looks after whom in the cohort, in the order the assignments were made."""
        return self._s.rows("csm_assignments_of_cohort", cohort_id=cohort_id)

    def assign_csms(self, cohort_id: str, run_id: str, rows: list[dict[str, Any]]) -> int:
        """Record new assignments (``email``, ``csm_email``, ``csm_name``, ``assigned_at``); a
        customer already assigned keeps their CSM."""
        return self._s.execute("csm_assign", [{**r, "cohort_id": cohort_id, "run_id": run_id} for r in rows])

    def replace_requests(self, run_id: str, cohort_id: str, rows: list[dict[str, Any]]) -> int:
        """Write the approval requests a run made (``stage``, ``approver``, ``subject``, ``body``,
        ``options``, ``people`` and, optionally, ``lines``: each person's line of the request's
        table, which ``body`` then leaves out), replacing an earlier try's. Each listed person is
        a row of their own, so that an erasure removes exactly them from a request."""
        with self._s.transaction() as tx:
            tx.execute("approval_request_people_delete", {"run_id": run_id, "cohort_id": cohort_id})
            tx.execute("approval_requests_delete", {"run_id": run_id, "cohort_id": cohort_id})
            keys = [{"run_id": run_id, "cohort_id": cohort_id, "stage": r["stage"], "approver": r["approver"]}
                    for r in rows]
            tx.execute("approval_request_insert", [{**k, "subject": r["subject"], "body": r["body"]}
                                                   for k, r in zip(keys, rows)])
            tx.execute("approval_request_person_insert", [
                {**k, "email": email, "ordinal": i, "option_text": option, "line": line}
                for k, r in zip(keys, rows)
                for i, (email, option, line) in enumerate(zip(r["people"], r["options"],
                                                              r.get("lines") or [None] * len(r["people"])))])
        return len(rows)

    def requests(self, run_id: str) -> list[dict[str, Any]]:
        """The run's approval requests, every cohort's, with options and people as lists (those an
        erasure removed are gone) and the body with each listed person's line."""
        listed: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for p in self._s.rows("approval_request_people_of_run", run_id=run_id):
            listed.setdefault((p["cohort_id"], p["stage"], p["approver"]), []).append(p)
        out = []
        for r in self._s.rows("approval_requests_of_run", run_id=run_id):
            people = listed.get((r["cohort_id"], r["stage"], r["approver"]), [])
            body = "\n".join([r["body"], *(p["line"] for p in people if p["line"] is not None)])
            out.append({**r, "body": body, "options": [p["option_text"] for p in people],
                        "people": [p["email"] for p in people]})
        return out

    def answered(self, run_id: str, cohort_id: str, stage: str, approver: str, by: str, at: str) -> None:
        self._s.execute("approval_request_answered", {"run_id": run_id, "cohort_id": cohort_id, "stage": stage,
                                                      "approver": approver, "answered_by": by, "answered_at": at})

    def approvals(self, cohort_id: str) -> list[dict[str, Any]]:
        """Every decision recorded for the cohort, by customer, oldest first."""
        return self._s.rows("approvals_of_cohort", cohort_id=cohort_id)
