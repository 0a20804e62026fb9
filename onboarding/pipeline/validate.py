"""Stage 2, validate: check the snapshots with Great Expectations, stage the good rows and
quarantine the bad ones; render the run's GX Data Docs."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from onboarding import logs
from onboarding import storage
from onboarding.cohorts import Cohort
from onboarding.decisions import is_seed, journey_of
from onboarding.errors import DatasetError
from onboarding.journeys import column_event
from onboarding.pipeline.progress import record
from onboarding.run import RunContext
from onboarding.sources import make_source
from onboarding.sources.snapshot import Snapshot
from onboarding.store import Store

log = logging.getLogger(__name__)
# A journey cohort's exports beside its signups, and the count of rows each read (the run's counts).
JOURNEY_ROW_COUNTS = {"events": "event_rows", "completions": "completion_rows", "csms": "roster_rows",
                      "queries": "query_rows"}


def validate(store: Store, cohort: Cohort, ctx: RunContext) -> dict[str, Any]:
    """Validate the snapshots the extract stage recorded for this run; a dataset problem fails the
    cohort (``DatasetError``), row problems quarantine their rows."""
    from onboarding.validation.gx import Validator, check_completions_against_signups

    inputs = store.runs.inputs(ctx.run_id, cohort.id)
    validator = Validator(run_name=ctx.run_id, cohort=cohort.id)
    results_dir = ctx.folder(cohort.id) / "validation"
    out = {}
    try:
        for cfg in cohort.exports:
            if cfg.role not in inputs:
                raise DatasetError(f"{cfg.location}: the run has no snapshot of its {cfg.role} export (the extract "
                                   f"stage did not finish); rerun the run")
            snap = Snapshot(**inputs[cfg.role])
            # The raw table is let go as soon as it is validated (not held while the next export
            # is read): at a million signups it is about 500 MB.
            out[cfg.role] = validator.validate(make_source(cfg, cohort.id).read(snap), cfg, snap, cohort.timezone,
                                               results_dir, ctx.as_of)
    except DatasetError as exc:
        docs = _data_docs(validator, results_dir, ctx, cohort)
        record(store, cohort, ctx, "failed", f"validate: {exc}", counts={"data_docs": docs} if docs else None)
        raise
    docs = _data_docs(validator, results_dir, ctx, cohort)
    su = out["signups"]
    if is_seed(journey_of(cohort)):
        co = check_completions_against_signups(su, out["completions"], cohort.timezone)
        quarantined = su.quarantined + co.quarantined
        store.staging.replace(ctx.run_id, cohort.id, su.frame, co.frame, quarantined)
        second = {"completion_rows": co.total_rows}
    else:  # a journey: every stage's evidence as event rows, matched to the signups when deciding
        import pandas as pd

        read = {r: out[r] for r in JOURNEY_ROW_COUNTS if r in out}
        quarantined = su.quarantined + [q for v in read.values() for q in v.quarantined]
        events = [out["events"].frame] if "events" in out else []
        if "completions" in out:  # the wide export: each filled timestamp cell is an event row
            events.append(out["completions"].column_events({f: column_event(f) for f in cohort.completions.timestamps}))
        if "queries" in out:  # a support export: each ticket asked (and answered) as the journey's query events
            q = cohort.journey_spec.queries
            events.append(out["queries"].column_events({"asked_at": q.asked, "answered_at": q.answered}))
        frame = pd.concat(events, ignore_index=True) if events else None
        # Rows of two exports share the events table: renumbered so each keeps its own (the
        # quarantine names the file's own row numbers).
        if frame is not None and len(events) > 1:
            frame["row"] = range(1, len(frame) + 1)
        store.staging.replace(ctx.run_id, cohort.id, su.frame, None, quarantined, events=frame,
                              roster=out["csms"].frame if "csms" in out else None)
        second = {JOURNEY_ROW_COUNTS[r]: v.total_rows for r, v in read.items()}
    counts = {"signup_rows": su.total_rows, **second,
              "quarantined_rows": len({(q.source, q.row) for q in quarantined}),
              "validation_results": [v.results_path for v in out.values()], "data_docs": docs}
    record(store, cohort, ctx, "validated", counts=counts)
    for q in quarantined:
        logs.event(log, logging.WARNING, "cohort %s: quarantined %s", cohort.id, q.describe(),
                   **ctx.fields(cohort.id, stage="validate", source=q.source, row=q.row, column=q.column))
    return {k: v for k, v in counts.items() if k != "validation_results"}


def _data_docs(validator, results_dir: Any, ctx: RunContext, cohort: Cohort) -> str | None:
    """The run's GX Data Docs (built on disk, then copied to run storage when that is a bucket);
    a failure to render them is logged, never fails the run."""
    try:
        site = results_dir / "data_docs"
        if storage.is_local(site):
            index = storage.display(validator.build_data_docs(site))
        else:
            with tempfile.TemporaryDirectory(prefix="onboarding-docs-") as tmp:
                validator.build_data_docs(Path(tmp))
                storage.upload_tree(Path(tmp), site)
            index = storage.display(site / "index.html")
    except Exception as exc:  # noqa: BLE001 - the JSON results are kept either way
        log.warning("cohort %s: GX Data Docs not rendered: %s: %s", cohort.id, type(exc).__name__, exc)
        return None
    log.info("cohort %s: GX validation results (Data Docs) for this run: %s", cohort.id, index)
    return index
