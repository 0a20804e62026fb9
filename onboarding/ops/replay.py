"""Replay a past run from its immutable inputs and check that it decides the same.

    python -m onboarding.ops.replay --cohort data-eng-2026-12 --run-id 'scheduled__2026-12-04T19:00:00+00:00'

For auditing: the run's copied exports are checked against the sha256 recorded when they were
read, validated and reconciled again in a scratch database, and every customer's standing and
emails decided (by the one decide path, as a dry run) are compared with what the run recorded.
Exit status 0 when identical, 1 when anything differs (each difference is printed). Nothing is
sent and the state database is only read.
"""
from __future__ import annotations

import argparse
import sys
import tempfile

from onboarding.cohorts import Cohort
from onboarding.pipeline.erasure import recorded_fingerprint
from onboarding.store import Store


def replay(store: Store, cohort: Cohort, run_id: str) -> list[str]:
    """Differences between a recorded run and its replay; empty when it decides the same."""
    from onboarding import pipeline
    from onboarding.run import RunContext
    from onboarding.sources.snapshot import Snapshot, sha256_bytes
    from onboarding.store import db
    from onboarding.times import from_iso

    run = store.runs.get(run_id, cohort.id)
    if not run:
        return [f"no run {run_id!r} for cohort {cohort.id!r} in the state database"]
    recorded = store.decisions.standings(run_id, cohort.id)
    recorded_kinds = store.decisions.kinds(run_id, cohort.id)
    inputs = store.runs.inputs(run_id, cohort.id)
    diffs = []
    # Compared as runs record it: without anyone erased since (an erased instructor, CSM).
    if inputs.get("cohort") and inputs["cohort"] != recorded_fingerprint(store, cohort):
        diffs.append("the cohort configuration has changed since the run; replaying with the current one")
    for role in (c.role for c in cohort.exports):
        snap = inputs.get(role)
        if not snap:
            return diffs + [f"the run recorded no {role} input"]
        actual = sha256_bytes(Snapshot(**snap).read_bytes())
        if actual != snap["sha256"]:
            return diffs + [f"{snap['path']}: sha256 {actual} differs from the recorded {snap['sha256']}"]

    scratch = Store(db.make_engine("sqlite://"))
    scratch.migrate()
    with tempfile.TemporaryDirectory() as tmp:  # the replay writes nothing into the run's folder
        ctx = RunContext(run_id, from_iso(run["as_of"]), True, tmp)
        scratch.runs.record(run_id, cohort.id, ctx.as_of, True, "extracted", inputs=inputs)
        pipeline.validate(scratch, cohort, ctx)
    customers = scratch.staging.reconcile(run_id, cohort.id, ctx.as_of)
    # The run decided again from the replayed exports and what the state database holds of the
    # ledger, approvals and CSM assignments (the engine reads only those made by the moment).
    from onboarding.decisions import journey_of
    from onboarding.decisions.facts import RunFacts
    from onboarding.decisions.run import decide
    from onboarding.pipeline.decide import roster

    facts = RunFacts(customers, scratch.staging.first_signups(run_id, cohort.id, ctx.as_of),
                     scratch.staging.events(run_id, cohort.id, ctx.as_of), store.journeys.approvals(cohort.id),
                     [a for a in store.journeys.csm_assignments(cohort.id) if from_iso(str(a["assigned_at"])) <= ctx.as_of],
                     store.ledger.states(cohort.id),
                     # the roster the run read from its export (replayed too), else the journey's
                     roster=roster(scratch, cohort, run_id),
                     seen_events=store.staging.event_names(cohort.id, ctx.as_of), refs=store.ledger.references(),
                     completion_rows_staged=scratch.staging.completion_count(run_id, cohort.id))
    result = decide(cohort, journey_of(cohort), ctx, facts)
    status = result.statuses["status"].to_numpy()
    kinds = set(zip(result.decisions["email"], result.decisions["kind"]))
    now = dict(zip(customers["email"], status))
    for email in sorted(set(now) | set(recorded)):
        if now.get(email) != recorded.get(email):
            diffs.append(f"{email}: recorded {recorded.get(email)}, replayed {now.get(email)}")
    for email, k in sorted(kinds ^ recorded_kinds):
        diffs.append(f"{email}: {k} {'only in the replay' if (email, k) in kinds else 'only in the record'}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    from onboarding.cohorts import load_cohorts
    from onboarding.resources import Resources

    diffs = replay(Resources.outside_task().store(), load_cohorts()[args.cohort], args.run_id)
    for d in diffs:
        print(d)
    print("replay decides the same" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
