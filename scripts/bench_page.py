"""The Onboarding page's load time for a big cohort. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_page.py                 # a cohort of 10,000 customers
    .venv/bin/python scripts/bench_page.py --size 100000

Generates N signups and 0.8 N completions (the pipeline benchmark's generator, with its mess),
runs the extract, validate and decide stages into a fresh SQLite state database (the night after
the deadline: every customer has a standing), then serves the page as Airflow's api-server does
(``create_app`` with the plugin, in this process, with a real token) and times each page several
times, the first request apart (the chart renderer loads once per api-server). The pipeline's
own figures are in ``scripts/bench_pipeline.py``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-page-"))
    os.environ.update({
        "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "no-dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(), "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(work / "state.db")}),
        "ONBOARDING_DATA_DIR": str(work / "data"),
    })
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "scripts" / "bench_pipeline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = bench.generate(args.size)
    os.environ["ONBOARDING_COHORTS_FILE"] = str(data / "cohorts.yaml")

    import datetime as dt
    import subprocess

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

    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
    headers = {"Authorization": f"Bearer {token}"}
    total, customers = store.analytics.customers(cohort.id, page=1)
    someone = customers[len(customers) // 2]["email"]
    pages = {
        "cohorts": "/onboarding/",
        "cohort (charts, first 100 customers)": f"/onboarding/cohorts/{cohort.id}",
        "cohort, page 50": f"/onboarding/cohorts/{cohort.id}?page=50",
        "cohort, search": f"/onboarding/cohorts/{cohort.id}?q=learner12",
        "customer": f"/onboarding/cohorts/{cohort.id}/customers/{someone}",
        "compare": "/onboarding/compare",
        "api: cohort": f"/onboarding/api/cohorts/{cohort.id}",
    }
    print(f"{total:,} customers in the cohort; each page {args.repeat} times (seconds):")
    print(f"  {'page':40s} {'first':>7s} {'median':>7s} {'max':>7s} {'bytes':>9s}")
    for name, url in pages.items():
        times = []
        for _ in range(args.repeat + 1):
            t = time.perf_counter()
            r = client.get(url, headers=headers)
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
        print(f"  {name:40s} {times[0]:7.2f} {statistics.median(times[1:]):7.2f} {max(times[1:]):7.2f} "
              f"{len(r.content):9,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
