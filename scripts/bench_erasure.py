"""What erasing one person costs in a big cohort, side by side with the floor (copying the same
run folders and state database, which any rewrite of them must at least do). Prints figures;
asserts nothing.

    .venv/bin/python scripts/bench_erasure.py                       # 100,000 signups, 3 nights
    .venv/bin/python scripts/bench_erasure.py --size 20000 --nights 2

Builds the nights once (the pipeline benchmark's generator: extract, validate and decide into a
SQLite state database), then times, with farm-bench, ``--erase`` (copy the template, erase one
customer from every cohort) against ``--copy`` (copy the template only), pair by pair.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from farm_pair import farm_pair

ROOT = Path(__file__).resolve().parents[1]


def _copy(template: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="bench-erasure-run-"))
    shutil.copytree(template / "data", work / "data")
    shutil.copy(template / "state.db", work / "state.db")
    return work


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--erase", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--copy", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.copy:
        shutil.rmtree(_copy(args.copy))
        return 0
    if args.erase:
        meta = json.loads((args.erase / "meta.json").read_text())
        work = _copy(args.erase)
        from onboarding.cohorts import load_cohorts
        from onboarding.pipeline.erasure import erase
        from onboarding.store import Store, db

        cohorts = load_cohorts(meta["cohorts_file"])
        engine = db.make_engine(f"sqlite:///{work / 'state.db'}")
        result = erase(Store(engine), meta["victim"], "*", cohorts, str(work / "data" / "runs"), [], "bench", "bench")
        print(json.dumps({k: v for k, v in result.items() if k != "hash"}))
        shutil.rmtree(work)
        return 0

    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "scripts" / "bench_pipeline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    template = Path(tempfile.mkdtemp(prefix="bench-erasure-"))
    data = bench.generate(args.size)
    os.environ["ONBOARDING_COHORTS_FILE"] = str(data / "cohorts.yaml")
    from onboarding import pipeline
    from onboarding.cohorts import load_cohorts
    from onboarding.run import RunContext
    from onboarding.store import Store, db

    (cohort,) = load_cohorts(data / "cohorts.yaml").values()
    engine = db.make_engine(f"sqlite:///{template / 'state.db'}")
    db.migrate(engine)
    store = Store(engine)
    started = time.monotonic()
    for night in range(args.nights):
        as_of = dt.datetime.fromisoformat(bench.AS_OF) + dt.timedelta(days=night)
        ctx = RunContext(f"night-{night}", as_of, False, str(template / "data" / "runs"))
        for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
            stage(store, cohort, ctx)
    victim = store.staging.reconcile("night-0", cohort.id, as_of)["email"].iloc[args.size // 2]
    (template / "meta.json").write_text(json.dumps({"cohorts_file": str(data / "cohorts.yaml"), "victim": victim}))
    size = sum(p.stat().st_size for p in template.rglob("*") if p.is_file())
    print(f"{args.size:,} signups, {args.nights} nights built in {time.monotonic() - started:.0f}s; "
          f"run folders and state database: {size / 1e6:.0f} MB")
    report = farm_pair([sys.executable, __file__, "--erase", str(template)],
                       [sys.executable, __file__, "--copy", str(template)], args.runs, 3000)
    print("A: copy + erase one customer everywhere;  B: copy only (the floor)")
    print(report)
    shutil.rmtree(template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
