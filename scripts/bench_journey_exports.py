"""What reading a journey's evidence from a wide export costs (issue 13), against the long events
export holding the same evidence: each validated with GX as the validate stage does it (the
Validator, every cell read and checked) and turned into the event rows the decide stage reads,
side by side with farm-bench, each in its own process on the same generated customers.

    .venv/bin/python scripts/bench_journey_exports.py [--sizes 100000] [--runs 3]

Each customer has three stages' timestamps, about two in three filled; the wide export has one
row per customer and a column per stage, the long one a row per filled cell.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from farm_pair import farm_pair

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("verified_at", "details_at", "trained_at")


def write(folder: Path, n: int) -> None:
    """The same evidence twice: wide.csv (a column per stage) and long.csv (a row per filled cell)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(13)
    base = pd.Timestamp("2026-11-01T00:00:00Z")
    emails = [f"c{i}@x.org" for i in range(n)]
    wide = {"Email": emails}
    long_parts = []
    for f in FIELDS:
        at = (base + pd.to_timedelta(rng.integers(0, 86400 * 25, n), unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ")
        filled = rng.random(n) < 0.66
        wide[f] = np.where(filled, at, "")
        long_parts.append(pd.DataFrame({"Email": np.array(emails)[filled], "Event": f, "At": np.asarray(at)[filled]}))
    pd.DataFrame(wide).to_csv(folder / "wide.csv", index=False)
    pd.concat(long_parts, ignore_index=True).to_csv(folder / "long.csv", index=False)


def run(which: str, folder: Path) -> None:
    import datetime as dt

    from onboarding.cohorts import SourceConfig
    from onboarding.journeys import column_event
    from onboarding.sources import make_source
    from onboarding.validation.gx import Validator

    if which == "wide":
        cfg = SourceConfig("completions", "csv", {"email": "Email", **{f: f for f in FIELDS}},
                           {"path": str(folder / "wide.csv")}, timestamps=FIELDS)
    else:
        cfg = SourceConfig("events", "csv", {"email": "Email", "event": "Event", "at": "At"},
                           {"path": str(folder / "long.csv")})
    source = make_source(cfg, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        snap = source.snapshot(Path(tmp))
        out = Validator().validate(source.read(snap), cfg, snap, "UTC", None,
                                   dt.datetime(2026, 12, 31, tzinfo=dt.timezone.utc))
    rows = out.column_events({f: column_event(f) for f in FIELDS}) if which == "wide" else out.frame
    print(which, out.total_rows, "rows read,", len(rows), "event rows,", len(out.quarantined), "quarantined")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["wide", "long"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.only:
        run(args.only, args.folder)
        return 0
    me = [sys.executable, str(Path(__file__).resolve())]
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp), n)
            print(f"--- {n:,} customers, 3 stages: A = the wide export (a column per stage), "
                  f"B = the long events export of the same evidence")
            print(farm_pair(me + ["--only", "wide", "--folder", tmp], me + ["--only", "long", "--folder", tmp],
                            args.runs, 1800))
    return 0


if __name__ == "__main__":
    sys.exit(main())
