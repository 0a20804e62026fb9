"""Staging: the validated rows each run read from its exports, the rows it quarantined, and the
reconciliation of the two exports (``reconcile_customers.sql``, ``orphan_completions.sql``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onboarding.times import iso, iso_column

if TYPE_CHECKING:
    import pandas as pd


class Staging:
    def __init__(self, store):
        self._s = store

    def replace(self, run_id: str, cohort_id: str, signups: "pd.DataFrame", completions: "pd.DataFrame | None",
                quarantined: list[Any], events: "pd.DataFrame | None" = None,
                roster: "pd.DataFrame | None" = None) -> None:
        """Stage a run's validated rows (``row``, ``email``, ``name``, ``timestamp``; a journey's
        event rows and the CSM roster it read) and its quarantined rows, replacing whatever an
        earlier try of the same run staged and decided. A journey cohort stages no completion
        rows (``None``): its wide export's cells are event rows."""
        import pandas as pd

        key = {"run_id": run_id, "cohort_id": cohort_id}

        def rows(frame: "pd.DataFrame", time_column: str, *extra: str) -> "pd.DataFrame":
            return pd.DataFrame({**key, "source_row": frame["row"].astype(int), "email": frame["email"],
                                 "name": frame["name"], time_column: iso_column(frame["timestamp"]),
                                 **{c: frame[c] if c in frame else None for c in extra}})

        with self._s.transaction() as tx:
            tx.script("delete_run_staging", key)
            tx.script("delete_run_decisions", key)
            tx.bulk("signup", rows(signups, "signed_up_at", "first_name", "consent", "attributes"))
            if completions is not None:
                tx.bulk("completion", rows(completions, "completed_at"))
            if events is not None and len(events):
                tx.bulk("journey_event", pd.DataFrame({
                    **key, "source_row": events["row"].astype(int), "email": events["email"],
                    "event": events["event"], "at": iso_column(events["timestamp"]),
                    "value": events["value"], "link": events["link"]}))
            if roster is not None and len(roster):
                tx.bulk("csm_roster", pd.DataFrame({
                    **key, "source_row": roster["row"].astype(int), "email": roster["email"], "name": roster["name"],
                    "capacity": roster["capacity"].astype(int),
                    "attributes": roster["attributes"] if "attributes" in roster else None}))
            tx.bulk("quarantine", pd.DataFrame([
                {**key, "source": q.source, "source_row": q.row, "column_name": q.column, "reason": q.reason,
                 "file": q.file, "value": q.value, "email": q.email} for q in quarantined]))
            tx.analyze()

    def first_signups(self, run_id: str, cohort_id: str, as_of) -> dict[str, Any]:
        """When each customer first signed up, at or before ``as_of`` (UTC datetimes)."""
        from onboarding.times import from_iso

        return {r["email"]: from_iso(str(r["signed_up_at"]))
                for r in self._s.rows("journey_signups", run_id=run_id, cohort_id=cohort_id, as_of=iso(as_of))}

    def events(self, run_id: str, cohort_id: str, as_of) -> list[dict[str, Any]]:
        """The run's validated event rows at or before ``as_of``, by customer and time."""
        return self._s.rows("journey_events_of_run", run_id=run_id, cohort_id=cohort_id, as_of=iso(as_of))

    def event_names(self, cohort_id: str, as_of) -> frozenset[str]:
        """Every event name any export of the cohort carried (in any run kept) at or before ``as_of``."""
        return frozenset(r["event"] for r in self._s.rows("journey_event_names", cohort_id=cohort_id, as_of=iso(as_of)))

    def roster(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """The CSM roster the run read from its cohort's ``csms`` export (empty: none read)."""
        return self._s.rows("csm_roster_of_run", run_id=run_id, cohort_id=cohort_id)

    def completion_count(self, run_id: str, cohort_id: str) -> int:
        """Validated completion rows the run staged."""
        return self._s.scalar("count_completions", run_id=run_id, cohort_id=cohort_id)

    def reconcile(self, run_id: str, cohort_id: str, as_of) -> "pd.DataFrame":
        """The cohort's customers as of the run's moment, one row each (``email``, ``name``,
        ``first_name``, ``completed_at``, ``held``): the newest signup's names, the earliest completion at or before
        ``as_of``, held when a completion row naming them was quarantined."""
        df = self._s.frame("reconcile_customers", times=("completed_at",), run_id=run_id, cohort_id=cohort_id,
                           as_of=iso(as_of))
        df["held"] = df["held"].astype(bool)
        return df

    def orphans(self, run_id: str, cohort_id: str, as_of) -> list[dict[str, Any]]:
        """Completions at or before ``as_of`` whose email matches no signup (valid or quarantined)."""
        return self._s.rows("orphan_completions", run_id=run_id, cohort_id=cohort_id, as_of=iso(as_of))
