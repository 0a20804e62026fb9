"""Pipeline benchmark: the project's path from CSV exports to decided emails, beside the bare-pandas
floor, at several sizes, on SQLite and PostgreSQL. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_pipeline.py                       # 10k and 100k signups, both backends
    .venv/bin/python scripts/bench_pipeline.py --sizes 10000,100000,1000000 --backends sqlite,postgresql

For each size it writes N signups and 0.8 N completions with the mess real exports have (emails
with capitals and spaces, duplicate signups, invalid emails, missing names, non-ASCII names,
unreadable and offset timestamps, completions with no signup, duplicate completion rows), cached
under ``var/bench/``. Then, each as a process of its own (as Airflow runs each task), measured by
the operating system (wall time, peak resident memory):

- **floor**: pandas with Arrow's CSV reader reads both files, normalises the emails, parses the
  timestamps vectorised, keeps each customer's newest signup and earliest completion and joins
  them: the fastest plain implementation of the same join. It is measured right before and right
  after the project at each size and backend (on a shared machine both see the same load), and
  the table's ratios use the faster of the two;
- **project**: the ``extract``, ``validate`` and ``decide`` stages of ``onboarding.pipeline`` on a
  fresh state database (the night after the deadline, so every customer is decided an email and
  every due email enters the ledger), with their time and peak memory each; sending is measured
  by ``scripts/bench_delivery.py``.

The table gives time and peak memory of both and their ratios; the project's peak is the largest
of its stages' (each stage is its own process, as in Airflow). ``--split`` also times each stage's
main steps by the wall clock (``STEPS``: reading, GX, staging, reconciling, deciding, writing,
entering the ledger) and prints them under its row, with what is left (start-up, the commit).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "var" / "bench"
PG_ADMIN = os.environ.get("ONBOARDING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AS_OF = "2026-12-05T06:00:00+11:00"  # the night after the deadline (4 Dec, Sydney)
FIRST = ["Olivia", "Liam", "Zoë", "Noah", "Amelia", "José", "Isla", "王", "Mia", "Ngozi", "Ava", "Søren"]
LAST = ["Smith", "Nguyen", "Brontë", "Khan", "García", "Tanaka", "O'Connor", "Żółć", "Mensah", "Lee"]


def generate(n: int) -> Path:
    """N signups and 0.8 N completions with realistic mess, written once per size."""
    folder = BENCH / f"data-{n}"
    if (folder / "cohorts.yaml").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(n)
    start = dt.datetime(2026, 10, 1, 9, 0)
    signed: list[dt.datetime] = []
    with open(folder / "signups.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Timestamp", "Full Name", "Email", "Phone"])
        for i in range(n):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            email = f"learner{i}@example{i % 97}.org"
            r = rng.random()
            if r < 0.03:
                email = f"  {email.upper()} "  # capitals and spaces
            elif r < 0.033:
                email = email.replace("@", " at ")  # invalid
            elif r < 0.035:
                name = ""  # missing name
            when = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 50))
            signed.append(when)
            w.writerow([when.strftime("%m/%d/%Y %H:%M:%S"), name, email, f"04{rng.randrange(10**8):08d}"])
            if r > 0.99:  # the same person signing up twice
                w.writerow([(when + dt.timedelta(hours=1)).strftime("%m/%d/%Y %H:%M:%S"), name + " Jr", email, ""])
    deadline_utc = dt.datetime(2026, 12, 4, 13, 0)  # end of 4 Dec in Sydney
    with open(folder / "completions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["user_email", "course", "completed_at", "score"])
        for i in rng.sample(range(n), int(n * 0.8)):
            email = f"learner{i}@example{i % 97}.org"
            # Some time after signing up (Sydney is 11 hours ahead of UTC), mostly before the
            # deadline, some just after it.
            r = rng.random()
            when = signed[i] - dt.timedelta(hours=11) + dt.timedelta(minutes=rng.randrange(60, 60 * 24 * 20))
            if r > 0.95:
                when = deadline_utc + dt.timedelta(minutes=rng.randrange(1, 60 * 24 * 2))
            text = when.strftime("%Y-%m-%dT%H:%M:%SZ") if r < 0.8 else (when + dt.timedelta(hours=11)).strftime(
                "%Y-%m-%dT%H:%M:%S+11:00")
            if r > 0.999:
                text = "yesterday afternoon"  # unreadable: the customer is held
            if r < 0.005:
                email = f"walk.in.{i}@example.org"  # a completion with no signup
            w.writerow([email, "C1", text, rng.randrange(60, 100)])
            if 0.3 < r < 0.305:
                w.writerow([email, "C1", text, 90])  # an exact duplicate row
    cfg = {"cohorts": [{"id": "bench", "title": "Benchmark Cohort", "deadline": "2026-12-04",
                        "timezone": "Australia/Sydney", "sender": "Team <team@example.edu>",
                        "instructor": "boss@example.edu",
                        "guards": {"max_source_age": None, "max_cancel_share": None},
                        "sources": {"signups": {"type": "csv", "path": "signups.csv",
                                                "timestamp_format": "%m/%d/%Y %H:%M:%S",
                                                "columns": {"email": "Email", "name": "Full Name",
                                                            "signed_up_at": "Timestamp"}},
                                    "completions": {"type": "csv", "path": "completions.csv",
                                                    "columns": {"email": "user_email",
                                                                "completed_at": "completed_at"}}}}]}
    import yaml

    (folder / "cohorts.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def floor(folder: Path) -> int:
    """The honest floor: the fastest plain implementation of the same join. pandas with Arrow's
    CSV reader (``engine="pyarrow"``), the emails normalised and both kinds of timestamp (the
    signups' formatted local times, the completions' ISO times with offsets) parsed vectorised;
    each customer's newest signup and earliest completion, joined."""
    import pandas as pd

    su = pd.read_csv(folder / "signups.csv", dtype=str, keep_default_na=False, engine="pyarrow")
    co = pd.read_csv(folder / "completions.csv", dtype=str, keep_default_na=False, engine="pyarrow")
    su["email"] = su["Email"].str.strip().str.lower()
    co["email"] = co["user_email"].str.strip().str.lower()
    su["at"] = pd.to_datetime(su["Timestamp"], format="%m/%d/%Y %H:%M:%S", errors="coerce").dt.tz_localize(
        "Australia/Sydney", ambiguous="NaT", nonexistent="NaT")
    co["at"] = pd.to_datetime(co["completed_at"], format="ISO8601", errors="coerce", utc=True)
    customers = su.drop_duplicates("email", keep="last")[["email", "Full Name", "at"]]
    done = co.groupby("email")["at"].min().rename("completed_at")
    joined = customers.merge(done, left_on="email", right_index=True, how="left")
    return len(joined)


# ``--split``: the steps of each stage timed by the wall clock (no profiler, whose cost per call
# inflates Python steps two- to three-fold), as (module, function or Class.method, what it is).
STEPS = {
    "validate": [("onboarding.sources.csv_source", "CsvSource.read", "reading the CSV files"),
                 ("onboarding.validation.gx", "Validator.__init__", "GX's context"),
                 ("onboarding.validation.readers", "Reader.read", "reading the values"),
                 ("onboarding.validation.gx", "Validator._check_dataset", "GX: dataset expectations"),
                 ("onboarding.validation.gx", "Validator._check_rows", "GX: row expectations"),
                 ("onboarding.validation.gx", "Validator._check_conflicts", "GX: conflicting completions"),
                 ("onboarding.store.staging", "Staging.replace", "staging the rows")],
    "decide": [("onboarding.store.staging", "Staging.reconcile", "reading the reconciled customers"),
               ("onboarding.pipeline.decide", "decide_run", "the decisions"),
               ("onboarding.store.decisions", "Decisions.replace", "writing standings and decisions"),
               ("onboarding.store.ledger", "LedgerTable.plan_due", "entering the ledger")],
}


def _time_steps(name: str) -> "collections.Counter":
    """Wrap the stage's steps (``STEPS``) so each adds its wall seconds to the returned counter."""
    import collections
    import functools
    import importlib

    spent = collections.Counter()
    for module, qualname, label in STEPS.get(name, []):
        owner = importlib.import_module(module)
        *path, attr = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, attr)

        def timed(*a, _fn=fn, _label=label, **k):
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t

        setattr(owner, attr, functools.wraps(fn)(timed))
    return spent


def stage(name: str, folder: Path, state_url: str, runs: Path, run_id: str) -> None:
    """One stage of the project's path, as its Airflow task runs it."""
    sys.path.insert(0, str(ROOT))
    spent = _time_steps(name) if os.environ.get("BENCH_SPLIT") else None
    t0 = time.perf_counter()
    _stage(name, folder, state_url, runs, run_id)
    if spent is not None:
        print("SPLIT " + json.dumps({"stage": name, "wall": time.perf_counter() - t0, **spent}), flush=True)


def _stage(name: str, folder: Path, state_url: str, runs: Path, run_id: str) -> None:
    from onboarding import pipeline
    from onboarding.cohorts import load_cohorts
    from onboarding.run import RunContext
    from onboarding.store import Store, db

    cohort = load_cohorts(folder / "cohorts.yaml")["bench"]
    store = Store(db.make_engine(state_url))
    if name == "migrate":
        store.migrate()
        return
    ctx = RunContext(run_id, dt.datetime.fromisoformat(AS_OF), False, str(runs))
    getattr(pipeline, name)(store, cohort, ctx)


def measure(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds and peak resident memory (MB) of one process, from the operating system."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def state_url(backend: str, tmp: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'state.db'}", lambda: None
    import sqlalchemy as sa

    name = f"onb_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--split", action="store_true",
                    help="also time each stage's main steps by the wall clock and print them under its row")
    sub = ap.add_subparsers(dest="command")
    f = sub.add_parser("floor")
    f.add_argument("folder", type=Path)
    s = sub.add_parser("stage")
    for a in ("name", "folder", "state", "runs", "run_id"):
        s.add_argument(a)
    args = ap.parse_args()
    if args.command == "floor":
        print(floor(args.folder))
        return
    if args.command == "stage":
        stage(args.name, Path(args.folder), args.state, Path(args.runs), args.run_id)
        return

    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    if args.split:
        env["BENCH_SPLIT"] = "1"
    me = [sys.executable, str(Path(__file__).resolve())]
    rows = []
    print(f"{'signups':>9} {'backend':<10} {'floor s':>8} {'floor MB':>9} {'project s':>10} {'project MB':>11} "
          f"{'time x':>7} {'mem x':>6}  per stage (s / MB)")
    for n in [int(x) for x in args.sizes.split(",")]:
        folder = generate(n)
        for backend in args.backends.split(","):
            fl_t, fl_m, _ = measure(me + ["floor", str(folder)], env)
            tmp = BENCH / f"run-{n}-{backend}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            url, drop = state_url(backend, tmp)
            try:
                measure(me + ["stage", "migrate", str(folder), url, str(tmp / "runs"), "bench"], env)
                stages, splits = {}, []
                for name in ("extract", "validate", "decide"):
                    wall, mb, out = measure(me + ["stage", name, str(folder), url, str(tmp / "runs"), "bench"], env)
                    stages[name] = (wall, mb)
                    splits += [json.loads(line[6:]) for line in out.splitlines() if line.startswith("SPLIT ")]
            finally:
                drop()
            after_t, after_m, _ = measure(me + ["floor", str(folder)], env)
            floors = (fl_t, after_t)
            fl_t, fl_m = min(fl_t, after_t), max(fl_m, after_m)
            total = sum(t for t, _ in stages.values())
            peak = max(m for _, m in stages.values())
            split = ", ".join(f"{k} {t:.1f}/{m:.0f}" for k, (t, m) in stages.items())
            print(f"{n:>9,} {backend:<10} {fl_t:>8.2f} {fl_m:>9.0f} {total:>10.1f} {peak:>11.0f} "
                  f"{total / fl_t:>7.1f} {peak / fl_m:>6.2f}  {split}; floor before/after "
                  f"{floors[0]:.2f}/{floors[1]:.2f}", flush=True)
            for sp in (sp for sp in splits if len(sp) > 2):  # --split: each step's wall seconds, then what is left (start-up, commits)
                steps = {k: v for k, v in sp.items() if k not in ("stage", "wall")}
                print(f"{'':>9} {sp['stage']}: " + "; ".join(f"{k} {v:.1f}" for k, v in steps.items())
                      + f"; the rest (imports, commit) {stages[sp['stage']][0] - sum(steps.values()):.1f}", flush=True)
            rows.append({"signups": n, "backend": backend, "floor_s": fl_t, "floor_mb": fl_m, "project_s": total,
                         "project_mb": peak, "stages": stages, "floors_s": floors, "splits": splits})
    # docs/benchmarks.md's table, as printed here (paste it; never edit its figures by hand).
    print("\n| Signups | State DB | Floor (s / MB) | Project (s / MB) | Time x | Memory x | extract / validate / decide (s) |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['signups']:,} | {r['backend']} | {r['floor_s']:.2f} / {r['floor_mb']:.0f} | "
              f"{r['project_s']:.1f} / {r['project_mb']:.0f} | {r['project_s'] / r['floor_s']:.1f} | "
              f"{r['project_mb'] / r['floor_mb']:.2f} | "
              f"{' / '.join(f'{t:.1f}' for t, _ in r['stages'].values())} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
