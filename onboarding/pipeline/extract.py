"""Stage 1, extract: copy the cohort's exports into the run's folder (immutable snapshots with manifests),
leaving out the rows of anyone erased on request."""
from __future__ import annotations

import logging
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.errors import DatasetError
from onboarding.journeys import SEED
from onboarding.pipeline.erasure import leave_out_erased, recorded_fingerprint
from onboarding.pipeline.progress import record
from onboarding.run import RunContext
from onboarding.sources import SourceClients, make_source
from onboarding.store import Store

log = logging.getLogger(__name__)


def extract(store: Store, cohort: Cohort, ctx: RunContext, clients: SourceClients | None = None) -> dict[str, Any]:
    """Snapshot the exports (signups and completions, or a journey's signups and events); a retry of the run reuses its copies. The manifests are recorded with
    the run (``runs.inputs``), with the cohort's configuration as the run used it."""
    inputs = {}
    try:
        for cfg in cohort.exports:
            inputs[cfg.role] = make_source(cfg, cohort.id, clients).snapshot(ctx.folder(cohort.id) / "inputs").to_dict()
    except Exception as exc:
        # Bad data (DatasetError) stops the cohort; anything else (a source that does not answer)
        # is retried by Airflow. Either way the run's record names the stage and the cause, so a
        # cohort whose last try fails has a record and a summary that say why.
        record(store, cohort, ctx, "failed", f"extract: {exc}" if isinstance(exc, DatasetError)
               else f"extract: {type(exc).__name__}: {exc}")
        raise
    # Someone erased on request whom the export still names: their rows are left out of the copy.
    inputs, left_out = leave_out_erased(store, cohort.id, inputs)
    if left_out:
        log.info("cohort %s: %d row(s) of people erased earlier left out of the copies", cohort.id, left_out)
    record(store, cohort, ctx, "extracted", inputs={**inputs, "cohort": recorded_fingerprint(store, cohort)},
           counts={"erased_rows_left_out": left_out} if left_out else None)
    # Which version of the journey this run walks: the page compares customers by it.
    journey = cohort.journey_spec or SEED
    store.runs.record_journey(ctx.run_id, cohort.id, journey.digest, journey.version)
    log.info("cohort %s: inputs copied to %s", cohort.id, ctx.folder(cohort.id) / "inputs")
    return {role: {"sha256": snap["sha256"], "size_bytes": snap["size_bytes"]} for role, snap in inputs.items()}
