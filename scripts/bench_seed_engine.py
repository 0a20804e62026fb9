"""What deciding the seed journey through the journey engine costs (issue 13): ``rules.walk_seed``
(the engine's walk over ``SEED``, what the decide stage runs) against the vectorised statement of
the same rules it replaced (a numpy ``select`` over the whole cohort), side by side with farm-bench,
each in its own process on the same generated cohort.

    .venv/bin/python scripts/bench_seed_engine.py [--sizes 100000 1000000] [--runs 3]

A third of the customers are pending, a third completed on time, a tenth late, a few held: the
engine walks each distinct (completion time, held) once, so completers cost a walk each.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from farm_pair import farm_pair

ROOT = Path(__file__).resolve().parents[1]


def cohort_frame(n: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    base = pd.Timestamp("2026-11-20T00:00:00Z")
    seconds = rng.integers(0, 86400 * 20, n)  # to the second: nearly every completer is a walk of its own
    done = rng.random(n) < 0.6
    completed = pd.Series(base + pd.to_timedelta(seconds, unit="s")).where(done)
    return pd.DataFrame({"email": [f"c{i}@x.org" for i in range(n)], "name": "N", "completed_at": completed,
                         "held": rng.random(n) < 0.01})


def run(which: str, n: int) -> None:
    import datetime as dt

    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import make_cohort

    cohort = make_cohort(deadline=dt.date(2026, 12, 4))
    frame = cohort_frame(n)
    as_of = cohort.deadline_at + dt.timedelta(hours=30)
    if which == "engine":
        from onboarding.decisions.rules import walk_seed

        status, kind = walk_seed(frame, cohort, as_of)
    else:  # the vectorised rules the engine replaced
        deadline = cohort.deadline_at
        done = frame["completed_at"].notna().to_numpy()
        on_time = (frame["completed_at"] < deadline).to_numpy() & done
        status = np.select([frame["held"].to_numpy(dtype=bool), on_time, done, np.full(n, as_of < deadline)],
                           ["held", "on_time", "completed_late", "pending"], "missed").astype(object)
        kind = np.select([(status == "pending") & (as_of >= cohort.reminder_window_start), status == "missed",
                          status == "completed_late", status == "on_time"],
                         ["reminder", "cancellation", "cancellation", "welcome"], "").astype(object)
    print(which, n, len(status), int((kind != "").sum()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["engine", "vectorised"])
    parser.add_argument("-n", type=int)
    args = parser.parse_args()
    if args.only:
        run(args.only, args.n)
        return 0
    me = [sys.executable, str(Path(__file__).resolve())]
    for n in args.sizes:
        print(f"--- {n:,} customers: A = engine (rules.walk_seed), B = the vectorised rules it replaced")
        print(farm_pair(me + ["--only", "engine", "-n", str(n)], me + ["--only", "vectorised", "-n", str(n)],
                        args.runs, 1200))
    return 0


if __name__ == "__main__":
    sys.exit(main())
