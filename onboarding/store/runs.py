"""``runs``: one row per cohort per Airflow run: its moment, how far it got, what it read (input
manifests), what it counted, which guards tripped."""
from __future__ import annotations

import json
from typing import Any

from onboarding.redaction import redact
from onboarding.times import iso, utcnow


class Runs:
    def __init__(self, store):
        self._s = store

    def record(self, run_id: str, cohort_id: str, as_of, dry_run: bool, status: str, error: str | None = None,
               inputs: dict | None = None, counts: dict | None = None) -> None:
        """Create or update the run's row. Each stage adds its counts to those of the stages before."""
        with self._s.transaction() as tx:
            if counts:
                earlier = tx.runs.get(run_id, cohort_id)
                counts = {**json.loads(earlier.get("counts") or "{}"), **counts}
            tx.execute("upsert_run", {
                "run_id": run_id, "cohort_id": cohort_id, "as_of": iso(as_of), "dry_run": int(dry_run),
                "status": status, "error": redact(error), "inputs": json.dumps(inputs) if inputs else None,
                "counts": json.dumps(counts, default=str) if counts else None, "now": iso(utcnow())})

    def get(self, run_id: str, cohort_id: str) -> dict[str, Any]:
        """The run's row (empty when the run never started for this cohort)."""
        return (self._s.rows("summary_run", run_id=run_id, cohort_id=cohort_id) or [{}])[0]

    def inputs(self, run_id: str, cohort_id: str) -> dict[str, Any]:
        """The input manifests (and the cohort's configuration) the run recorded when it read them."""
        return json.loads(self.get(run_id, cohort_id).get("inputs") or "{}")

    def counts(self, run_id: str, cohort_id: str) -> dict[str, Any]:
        return json.loads(self.get(run_id, cohort_id).get("counts") or "{}")

    def previous(self, cohort_id: str, run_id: str, started_at: str) -> dict[str, Any] | None:
        """The cohort's most recent earlier run that decided on its inputs: the baseline a run is
        compared with."""
        return (self._s.rows("previous_run", cohort_id=cohort_id, run_id=run_id, started_at=started_at) or [None])[0]

    def older_than(self, cohort_id: str, cutoff) -> list[dict[str, Any]]:
        """The cohort's runs started before ``cutoff`` (past the retention period)."""
        return self._s.rows("runs_older_than", cohort_id=cohort_id, cutoff=iso(cutoff))

    def record_journey(self, run_id: str, cohort_id: str, digest: str, version: str) -> None:
        """The version of the cohort's journey the run walked (its definition's hash and label)."""
        self._s.execute("run_set_journey", {"run_id": run_id, "cohort_id": cohort_id, "digest": digest or None,
                                            "version": version or None})

    def record_guards(self, run_id: str, cohort_id: str, guards: list[dict] | None) -> None:
        self._s.execute("record_guards", {"run_id": run_id, "cohort_id": cohort_id, "now": iso(utcnow()),
                                          "guards": json.dumps(guards) if guards else None})
