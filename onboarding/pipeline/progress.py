"""How far a cohort's run got: each stage records it in the ``runs`` table as it ends."""
from __future__ import annotations

from onboarding.cohorts import Cohort
from onboarding.run import RunContext
from onboarding.store import Store


def record(store: Store, cohort: Cohort, ctx: RunContext, status: str, error: str | None = None,
           inputs: dict | None = None, counts: dict | None = None) -> None:
    store.runs.record(ctx.run_id, cohort.id, ctx.as_of, ctx.dry_run, status, error, inputs, counts)
