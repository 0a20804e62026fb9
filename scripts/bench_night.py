"""Whole-night benchmark: one nightly run of ``onboarding_nightly`` through ``dag.test()`` (Airflow's
in-process runner, its SQLite metadata database), on ``scripts/bench_pipeline.py``'s generated
exports, with the local outbox as the email backend. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_night.py                  # 10k signups
    .venv/bin/python scripts/bench_night.py --sizes 10000,100000

The night is the one after the deadline (every customer is decided an email, so every signup is
sent one: the heaviest night). Each size runs in a process of its own, on a fresh state database,
metadata database and outbox; printed: the night's wall time, each task's seconds (as Airflow
recorded them), the emails in the outbox and the process's peak resident memory (dag.test runs
every task in that one process, so this is the whole night's peak, not a task's).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench_pipeline import AS_OF, BENCH, generate  # noqa: E402


def night(n: int) -> dict:
    """One night at ``n`` signups, in this process (the environment is set by ``main``)."""
    sys.path.insert(0, str(ROOT))
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("onboarding_nightly")
    moment = dt.datetime.fromisoformat(AS_OF)
    os.environ["ONBOARDING_SIMULATED_NOW"] = AS_OF
    t0 = time.perf_counter()
    dr = dag.test(logical_date=moment, run_after=moment)
    wall = time.perf_counter() - t0
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id,
                                                 TaskInstance.run_id == dr.run_id).all()
        tasks = sorted(((ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""), ti.duration or 0.0,
                         str(getattr(ti.state, "value", ti.state))) for ti in tis), key=lambda t: -t[1])
    outbox = Path(os.environ["BENCH_OUTBOX"])
    return {"signups": n, "state": str(getattr(dr.state, "value", dr.state)), "wall_s": wall,
            "emails": sum(1 for _ in outbox.glob("*/*/*.eml")),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "tasks": tasks}


class Sampler:
    """Where a night's wall time goes, in every thread (the send task's threads too, which cProfile
    does not see): each thread's stack every 10 ms, written as collapsed stacks (one line per
    distinct stack and its sample count, as flame graph tools read them)."""

    def __init__(self, out: Path, interval: float = 0.01):
        import collections
        import threading

        self.out, self.interval, self.counts = out, interval, collections.Counter()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = self.thread.ident
        while not self.done.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                stack = []
                while frame is not None:
                    code = frame.f_code
                    stack.append(f"{Path(code.co_filename).name}:{code.co_name}")
                    frame = frame.f_back
                self.counts[";".join(reversed(stack))] += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.out.write_text("".join(f"{stack} {n}\n" for stack, n in self.counts.most_common()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--profile", action="store_true",
                    help="sample every thread's stack every 10 ms; writes var/bench/night-N/night.stacks")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if os.environ.get("BENCH_PROFILE"):
            with Sampler(Path(os.environ["BENCH_PROFILE"])):
                result = night(args.child)
        else:
            result = night(args.child)
        print("RESULT " + json.dumps(result), flush=True)
        return
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        folder = generate(n)
        work = BENCH / f"night-{n}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "airflow").mkdir(parents=True)
        env = {**os.environ, "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
               "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "GX_ANALYTICS_ENABLED": "false",
               "ONBOARDING_COHORTS_FILE": str(folder / "cohorts.yaml"), "ONBOARDING_DATA_DIR": str(work / "data"),
               "BENCH_OUTBOX": str(work / "outbox"), "PYTHONPATH": str(ROOT),
               "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(work / "state.db")}),
               "AIRFLOW_CONN_ONBOARDING_EMAIL": json.dumps({"conn_type": "generic", "extra": {
                   "backend": "outbox", "path": str(work / "outbox")}})}
        if args.profile:
            env["BENCH_PROFILE"] = str(work / "night.stacks")
        migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True)
        if migrate.returncode:
            raise SystemExit(migrate.stdout.decode()[-2000:] + migrate.stderr.decode()[-2000:])
        with open(work / "night.log", "wb") as log:
            proc = subprocess.run([sys.executable, __file__, "--child", str(n)], env=env, stdout=subprocess.PIPE,
                                  stderr=log)
        found = [line for line in proc.stdout.decode().splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not found:
            raise SystemExit(f"the night at {n} failed; see {work / 'night.log'}")
        r = json.loads(found[-1][len("RESULT "):])
        results.append(r)
        print(f"{n:,} signups: night {r['state']} in {r['wall_s']:.0f} s, {r['emails']:,} emails in the outbox, "
              f"peak {r['peak_mb']:.0f} MB", flush=True)
        for task, seconds, state in r["tasks"]:
            if seconds >= 0.5:
                print(f"    {task:<40} {seconds:8.1f} s  {state}")
    # docs/benchmarks.md's table, as printed here.
    print("\n| Signups | Night (s) | Emails | Peak MB | Slowest tasks (s) |")
    print("|---:|---:|---:|---:|---|")
    for r in results:
        top = ", ".join(f"{t} {s:.0f}" for t, s, _ in r["tasks"][:4])
        print(f"| {r['signups']:,} | {r['wall_s']:.0f} | {r['emails']:,} | {r['peak_mb']:.0f} | {top} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
