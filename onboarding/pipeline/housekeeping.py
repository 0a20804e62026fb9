"""After the cohorts: delete run folders past each cohort's retention (``retention_days``,
default 400): their input snapshots hold customers' personal data, kept no longer than needed.
The state database keeps each run's record (counts, decisions, the ledger); only the folder
(snapshots, validation results, Data Docs, report CSVs, summaries) goes."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from onboarding import storage
from onboarding.cohorts import Cohort
from onboarding.run import run_slug
from onboarding.store import Store

log = logging.getLogger(__name__)


def housekeep(store: Store, cohorts: list[Cohort], runs_base: str, now: dt.datetime) -> dict[str, Any]:
    """Delete the folders of runs started more than ``retention_days`` before ``now``; returns how
    many per cohort."""
    removed: dict[str, int] = {}
    base = storage.location(runs_base)
    for cohort in cohorts:
        cutoff = now - dt.timedelta(days=cohort.retention_days)
        n = 0
        for run in store.runs.older_than(cohort.id, cutoff):
            if storage.remove_tree(base / cohort.id / run_slug(run["run_id"])):
                n += 1
        if n:
            log.info("cohort %s: deleted %d run folder(s) started before %s (retention %d days)", cohort.id, n,
                     f"{cutoff.astimezone(cohort.tz):%Y-%m-%d}", cohort.retention_days)
        removed[cohort.id] = n
    return removed
