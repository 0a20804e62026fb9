"""Replay a past run from its immutable inputs and check that it decides the same.

    python -m onboarding.replay --cohort data-eng-2026-12 --run-id 'scheduled__2026-12-04T19:00:00+00:00'

For auditing: the run's copied exports are checked against the sha256 recorded when they were
read, validated and reconciled again in a scratch database, and every customer's standing and
due emails (by the rules alone, before the ledger) are compared with what the run recorded.
Exit status 0 when identical, 1 when anything differs (each difference is printed). Nothing is
sent and the state database is only read.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from onboarding import state


def cohort_fingerprint(cohort) -> dict:
    """The cohort's configuration as a run used it, recorded with the run's inputs."""
    return json.loads(json.dumps(asdict(cohort), default=str))


def replay(engine, cohort, run_id: str) -> list[str]:
    """Differences between a recorded run and its replay; empty when it decides the same."""
    from onboarding import pipeline
    from onboarding.decisions import due_kinds, standing
    from onboarding.sources import _sha256

    with engine.connect() as conn:
        run = (state.rows(conn, "summary_run", run_id=run_id, cohort_id=cohort.id) or [None])[0]
        if run is None:
            return [f"no run {run_id!r} for cohort {cohort.id!r} in the state database"]
        key = {"run_id": run_id, "cohort_id": cohort.id}
        recorded = {r["email"]: r["status"] for r in state.rows(conn, "run_customer_status", **key)}
        recorded_kinds = {(r["email"], r["kind"]) for r in state.rows(conn, "run_decided_kinds", **key)}
    inputs = json.loads(run["inputs"] or "{}")
    diffs = []
    if inputs.get("cohort") and inputs["cohort"] != cohort_fingerprint(cohort):
        diffs.append("the cohort configuration has changed since the run; replaying with the current one")
    for role in ("signups", "completions"):
        snap = inputs.get(role)
        if not snap:
            return diffs + [f"the run recorded no {role} input"]
        actual = _sha256(Path(snap["path"]))
        if actual != snap["sha256"]:
            return diffs + [f"{snap['path']}: sha256 {actual} differs from the recorded {snap['sha256']}"]

    scratch = state.make_engine("sqlite://")
    state.migrate(scratch)
    with tempfile.TemporaryDirectory() as tmp:  # the replay writes nothing into the run's folder
        ctx = pipeline.RunContext(run_id, state.from_iso(run["as_of"]), True, Path(tmp))
        pipeline.validate(scratch, cohort, ctx, {k: v for k, v in inputs.items() if k in ("signups", "completions")})
    with scratch.connect() as conn:
        customers, _ = pipeline.reconcile(conn, cohort, ctx)
    now = {c.email: standing(c, cohort, ctx.as_of) for c in customers}
    kinds = {(c.email, k) for c in customers for k, _ in due_kinds(c, cohort, ctx.as_of)}
    for email in sorted(set(now) | set(recorded)):
        if now.get(email) != recorded.get(email):
            diffs.append(f"{email}: recorded {recorded.get(email)}, replayed {now.get(email)}")
    for email, kind in sorted(kinds ^ recorded_kinds):
        diffs.append(f"{email}: {kind} {'only in the replay' if (email, kind) in kinds else 'only in the record'}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    from onboarding import airflow_glue
    from onboarding.config import load_cohorts

    diffs = replay(airflow_glue.state_engine(), load_cohorts()[args.cohort], args.run_id)
    for d in diffs:
        print(d)
    print("replay decides the same" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
