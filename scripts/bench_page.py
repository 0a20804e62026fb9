"""The Onboarding page's load time for a big cohort, beside the previous implementation's in the
same run. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_page.py                 # a cohort of 10,000 customers
    .venv/bin/python scripts/bench_page.py --size 100000
    .venv/bin/python scripts/bench_page.py --baseline none # this tree only

Generates N signups and 0.8 N completions (the pipeline benchmark's generator, with its mess),
runs the extract, validate and decide stages into a fresh SQLite state database (the night after
the deadline: every customer has a standing), then serves the pages as Airflow's api-server does
(``create_app`` with the plugin, with a real token) and times each several times, the first
request apart (the chart renderer loads once per api-server; the cohort's figures are computed
once per state of its latest run and kept). Each tree is served by its own process: this one, and
the baseline (``--baseline``, a commit: default the one before the page's lists, extracted with
``git archive``) on a copy of the same database without this tree's migrations, so the baseline
runs as it shipped. The machine may be shared: the figures are wall-clock times under whatever
load it has, the two trees measured one after the other. The pipeline's own figures are in
``scripts/bench_pipeline.py``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "3d2cf65"  # main before the page's lists (issue "the instructor's day", points 4-6)
# What this tree's migrations add, taken off the baseline's copy of the database.
NEWER = {"0024": ["DROP INDEX IF EXISTS customer_status_name", "DROP INDEX IF EXISTS customer_status_standing",
                  "DROP INDEX IF EXISTS csm_assignments_csm", "DROP INDEX IF EXISTS journey_waiting_standing",
                  "DROP INDEX IF EXISTS orphan_completions_order", "DROP INDEX IF EXISTS email_ledger_updated",
                  "DROP TABLE IF EXISTS page_figures"]}


def pages(cohort_id: str, someone: str) -> dict[str, str]:
    return {
        "cohorts": "/onboarding/",
        "cohort (charts, first 100 customers)": f"/onboarding/cohorts/{cohort_id}",
        "cohort, page 50": f"/onboarding/cohorts/{cohort_id}?page=50",
        "cohort, search": f"/onboarding/cohorts/{cohort_id}?q=learner12",
        "cohort, missed (filter)": f"/onboarding/cohorts/{cohort_id}?standing=missed",
        "quarantine, page 2": f"/onboarding/cohorts/{cohort_id}/quarantine?page=2",
        "customer": f"/onboarding/cohorts/{cohort_id}/customers/{someone}",
        "compare": "/onboarding/compare",
        "api: cohort": f"/onboarding/api/cohorts/{cohort_id}",
    }


def serve(work: Path, cohort_id: str, someone: str, repeat: int) -> dict[str, dict]:
    """Time each page in this process (the tree on sys.path): first, median and max seconds."""
    os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(Path(os.environ.get("BENCH_TREE", ROOT)) / "plugins")
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    for name, url in pages(cohort_id, someone).items():
        times, status, size = [], 0, 0
        for _ in range(repeat + 1):
            t = time.perf_counter()
            r = client.get(url, headers=headers)
            times.append(time.perf_counter() - t)
            status, size = r.status_code, len(r.content)
        out[name] = {"status": status, "first": times[0], "median": statistics.median(times[1:]),
                     "max": max(times[1:]), "bytes": size}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", default=BASELINE, help="a commit to serve beside this tree, or 'none'")
    ap.add_argument("--serve", help=argparse.SUPPRESS)  # internal: time the pages of a prepared folder
    args = ap.parse_args()
    if args.serve:
        spec = json.loads(args.serve)
        print(json.dumps(serve(Path(spec["work"]), spec["cohort"], spec["someone"], args.repeat)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-page-"))
    env = {
        "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "no-dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(), "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(work / "state.db")}),
        "ONBOARDING_DATA_DIR": str(work / "data"),
    }
    os.environ.update(env)
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "scripts" / "bench_pipeline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = bench.generate(args.size)
    os.environ["ONBOARDING_COHORTS_FILE"] = env["ONBOARDING_COHORTS_FILE"] = str(data / "cohorts.yaml")

    import datetime as dt

    from onboarding import pipeline
    from onboarding.cohorts import load_cohorts
    from onboarding.resources import Resources
    from onboarding.run import RunContext

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    (cohort,) = load_cohorts(data / "cohorts.yaml").values()
    store = Resources().store()
    ctx = RunContext("bench-night", dt.datetime.fromisoformat(bench.AS_OF), False, str(work / "data" / "runs"))
    started = time.monotonic()
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)
    print(f"cohort {cohort.id}: {args.size:,} signups decided in {time.monotonic() - started:.0f}s")
    total, customers = store.analytics.customers(cohort.id, page=1)
    someone = customers[len(customers) // 2]["email"]
    store.engine.dispose()

    trees = {"now": (ROOT, work / "state.db")}
    if args.baseline != "none":
        tree = work / f"baseline-{args.baseline}"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        db = work / "baseline.db"
        shutil.copyfile(work / "state.db", db)
        with sqlite3.connect(db) as conn:
            for version, statements in NEWER.items():
                for statement in statements:
                    conn.execute(statement)
                conn.execute("DELETE FROM schema_migrations WHERE version = ?", (version,))
        trees[args.baseline] = (tree, db)
    results = {}
    for name, (tree, db) in trees.items():
        child = {**os.environ, "BENCH_TREE": str(tree), "PYTHONPATH": str(tree),
                 "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(db)})}
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--repeat", str(args.repeat), "--serve",
                               json.dumps({"work": str(work), "cohort": cohort.id, "someone": someone})],
                              env=child, cwd=str(tree), capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])

    names = list(results)
    load = os.getloadavg()
    print(f"{total:,} customers in the cohort; each page {args.repeat} times after a first request (seconds, "
          f"server time as the client sees it; load average {load[0]:.1f} on {os.cpu_count()} cores: a shared "
          "machine, figures under load)")
    head = "".join(f" {n[:10] + ' first':>17s} {n[:10] + ' median':>18s}" for n in names)
    print(f"  {'page':40s}{head} {'bytes now':>10s}")
    for page in pages(cohort.id, someone):
        cells = ""
        for n in names:
            r = results[n][page]
            cells += (f" {r['first']:17.2f} {r['median']:18.2f}" if r["status"] == 200 else
                      f" {'(' + str(r['status']) + ')':>17s} {'':>18s}")
        print(f"  {page:40s}{cells} {results['now'][page]['bytes']:10,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
