"""The demo: run the nightly DAG on the bundled sample data for each night around the deadlines,
as Airflow would, and print per run date what was decided and sent.

    python -m onboarding.ops.demo [--start 2026-11-28] [--end 2026-12-06] [--keep] [--no-journey]

Each night is a real ``dag.test()`` run of ``onboarding_nightly`` (Airflow's own in-process
runner, against the SQLite metadata database), with emails written to the outbox folder as .eml
files. Each night's output goes to ``var/demo-logs/<date>.log``, and each task's part of it to the
task log Airflow's UI opens (under ``$AIRFLOW_HOME/logs``). The last night is run twice, to show
that a rerun of the same date sends nothing new; each run (a night's, its rerun, the journey
sample's) is a run of its own in Airflow.

Then the journey sample (config/journey-cohorts.yaml: a SaaS product onboarding accounts in 19
steps) over the same nights: each night's run ends without waiting on its approval requests, which
wait in an ``onboarding_approvals`` run of their own (run here with ``dag.test()``, as the
scheduler would start it); an approver answers them through Airflow's REST API (the api-server app
in this process), approving complete details and training, rejecting details sent incomplete with
a reason.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shutil
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from onboarding import paths


@contextlib.contextmanager
def _output_to(path: Path):
    """Send everything written to stdout/stderr (Airflow's logging included) to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


# dag.test() runs each task in this process and logs to its output; Airflow's UI reads a task's
# log from its file under the logs folder. The night's output is split there, task by task, at
# the line dag.test() writes as each task starts.
TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>\S+) map_index=(?P<map>-?\d+)")


def write_task_logs(night_log: Path, dag_id: str, run_id: str, logs_folder: Path | None = None) -> list[Path]:
    """Each task's part of ``night_log`` as the task log Airflow's UI opens for the run
    (``[logging] log_filename_template`` under ``base_log_folder``): a try per start of the task."""
    from airflow.configuration import conf

    base = Path(logs_folder or conf.get("logging", "base_log_folder"))
    parts: list[tuple[str, int, list[str]]] = []
    for line in night_log.read_text(errors="replace").splitlines(keepends=True):
        start = TASK_START.search(line)
        if start:
            parts.append((start["task"], int(start["map"]), []))
        if parts:
            parts[-1][2].append(line)
    tries: dict[tuple[str, int], int] = {}
    written = []
    for task, map_index, lines in parts:
        tries[task, map_index] = attempt = tries.get((task, map_index), 0) + 1
        path = (base / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task}"
                / (f"map_index={map_index}" if map_index >= 0 else "") / f"attempt={attempt}.log")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines))
        written.append(path)
    return written


def _simulate(night: dt.datetime | None) -> None:
    """Live in the replayed night's time (None: back to today's): the rules that read the clock
    (no reminder after its deadline) see that night, and the ledger records an email as sent on
    it (``times.sent_clock``), not on the day the demo runs."""
    if night is None:
        os.environ.pop("ONBOARDING_SIMULATED_NOW", None)
        os.environ.pop("ONBOARDING_SIMULATED_SINCE", None)
        return
    os.environ["ONBOARDING_SIMULATED_NOW"] = night.isoformat()
    os.environ["ONBOARDING_SIMULATED_SINCE"] = dt.datetime.now(dt.timezone.utc).isoformat()


def _load_dag(dag_id: str = "onboarding_nightly"):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(paths.PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(dag_id)


def print_night(day: dt.date, as_of: dt.datetime, run_id: str, state_ok: str) -> None:
    from onboarding.cohorts import load_cohorts
    from onboarding.reporting import summary
    from onboarding.resources import Resources

    store = Resources.outside_task().store()
    print(f"\n=== {day:%a %d %b %Y} nightly run ({state_ok}) ===")
    for cohort in load_cohorts().values():
        data = summary.collect(store, cohort, run_id)
        if not data["run"]:
            continue
        days = (cohort.deadline - as_of.astimezone(cohort.tz).date()).days  # in the cohort's own zone
        when = f"deadline in {days} day(s)" if days > 0 else ("deadline today" if days == 0 else
                                                              f"deadline passed {-days} day(s) ago")
        print(f"  [{cohort.id}] {when}")
        print(f"    {summary.one_line(cohort, data)}")
        for kind in summary.named_kinds(cohort):
            names = [d["name"] for d in data["sent"] if d["kind"] == kind]
            n = data["by_kind"]["sent"].get(kind, 0)
            if n:
                more = f" and {n - 4} more" if n > 4 else ""
                print(f"    sent {n:>3} {kind:<12} e.g. {', '.join(names[:4])}{more}")
        if data["totals"]["already"]:
            print(f"    skipped {data['totals']['already']} email(s) already sent on an earlier night")
        for d in data["blocked"] + data["waiting"]:
            print(f"    held back: {d['kind']} to {d['email']}: {d['reason']}")
        held = [c for c in data["late"] if c["status"] == "held"]
        for c in held:
            print(f"    held: {c['name']} <{c['email']}>: a completion row naming them was quarantined")


JOURNEY_COHORTS = paths.PROJECT_ROOT / "config" / "journey-cohorts.yaml"
JOURNEY_LATER = dt.timedelta(minutes=1)  # the journey's nightly run is asked for after the courses'
RERUN_LATER = dt.timedelta(hours=1)  # the last night is rerun by hand an hour later


def per_kind(emails: list[Path]) -> str:
    """Outbox files counted by kind (their folder), in words: ``reminder 172, welcome 225``."""
    by_kind: dict[str, int] = {}
    for p in emails:
        by_kind[p.parent.name] = by_kind.get(p.parent.name, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items()))


def print_journey_night(day: dt.date, run_id: str, state: str, answered: list[dict]) -> None:
    """One night of the journey sample: where the customers stand, what the approver decided, who
    was placed with a CSM, which emails went out."""
    from onboarding.cohorts import load_cohorts
    from onboarding.resources import Resources

    store = Resources.outside_task().store()
    print(f"\n=== {day:%a %d %b %Y} journey run ({state}) ===")
    for cohort in load_cohorts().values():
        counts = store.runs.counts(run_id, cohort.id)
        if not counts:
            continue
        stages = {k.removeprefix("status_"): v for k, v in counts.items() if k.startswith("status_")}
        print(f"  [{cohort.id}] {counts.get('customers', 0)} customers: "
              + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
        sent = {k.removesuffix("_due"): v for k, v in counts.items() if k.endswith("_due") and ":" in k}
        print("  emails due: " + (", ".join(f"{k} {v}" for k, v in sorted(sent.items())) or "none"))
        print(f"  CSMs assigned {counts.get('csm_assigned', 0)}, waiting for a CSM {counts.get('waiting_for_csm', 0)}; "
              f"{counts.get('approval_requests', 0)} approval request(s) listing {counts.get('awaiting_approval', 0)}; "
              f"{counts.get('waiting_on_a_person', 0)} item(s) waiting on a person")
    for a in answered:
        rejected = [line for line in a["reject"].splitlines() if line.strip()]
        print(f"  approver answered \"{a['subject']}\": approved {len(a['chosen'])}, rejected {len(rejected)}")


def journey_nights(nights: list[dt.date], run_time: dt.time, tz, logs: Path, outbox: Path, before: set) -> int:
    """The journey sample, night by night, its approvals answered through Airflow's REST API."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from onboarding.ops.approver import Approver, run_approvals

    os.environ["ONBOARDING_COHORTS_FILE"] = str(JOURNEY_COHORTS)
    with _output_to(logs / "dag-parse-journey.log"):
        dag = _load_dag()
        approvals = _load_dag("onboarding_approvals")
        api = TestClient(create_app())
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="demo.approver", role="admin"))
    print(f"\nJourney sample ({JOURNEY_COHORTS.name}): the 19-step onboarding of config/journeys.yaml; an approver "
          f"answers each night's approval requests through Airflow's REST API")
    failed = 0
    for day in nights:
        nightly = dt.datetime.combine(day, run_time, tz)
        # A run of its own in Airflow, a minute after the course cohorts' (Airflow names a run by
        # when it was asked for, and dag.test() replaces a run of the same date), deciding as of
        # the same nightly moment.
        asked_at = nightly + JOURNEY_LATER
        _simulate(asked_at)
        with _output_to(logs / f"{day}-journey.log"):
            dr = dag.test(logical_date=asked_at, run_after=asked_at,  # ends without waiting on the approver
                          run_conf={"as_of": nightly.isoformat()})
        with _output_to(logs / f"{day}-journey-approvals.log"), \
                Approver(api, {"Authorization": f"Bearer {token}"}) as person:
            asked = run_approvals(approvals, dr.run_id)  # the night's requests, answered meanwhile
        _simulate(None)
        write_task_logs(logs / f"{day}-journey.log", dag.dag_id, dr.run_id)
        if asked is not None:
            write_task_logs(logs / f"{day}-journey-approvals.log", approvals.dag_id, asked.run_id)
        state = str(getattr(dr.state, "value", dr.state))
        failed += state != "success" or bool(person.errors)
        failed += asked is not None and str(getattr(asked.state, "value", asked.state)) != "success"
        for e in person.errors:
            print(f"  approver error: {e}")
        print_journey_night(day, dr.run_id, state, person.answered)
    new = [p for p in sorted(outbox.rglob("*.eml")) if p not in before]
    print(f"\n{len(new)} journey emails in {shown(outbox)}: {per_kind(new)}")
    return failed


def shown(folder: Path) -> str:
    """A folder as the person who ran the demo types it: relative to where they stand when it is
    below it (``var/outbox``), else in full."""
    try:
        return Path(folder).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2026-11-28", type=dt.date.fromisoformat)
    parser.add_argument("--end", default="2026-12-06", type=dt.date.fromisoformat)
    parser.add_argument("--keep", action="store_true", help="keep earlier demo state instead of starting afresh")
    parser.add_argument("--no-journey", action="store_true", help="only the course cohorts, not the journey sample")
    args = parser.parse_args(argv)

    data_dir = paths.data_dir()
    outbox = Path(os.environ.get("ONBOARDING_OUTBOX", paths.PROJECT_ROOT / "var" / "outbox"))
    logs = paths.PROJECT_ROOT / "var" / "demo-logs"
    if not args.keep:
        for folder in (data_dir, outbox, logs):
            shutil.rmtree(folder, ignore_errors=True)
        data_dir.mkdir(parents=True, exist_ok=True)

    tz = ZoneInfo(os.environ.get("ONBOARDING_TIMEZONE", "Australia/Sydney"))
    run_time = dt.time.fromisoformat(os.environ.get("ONBOARDING_RUN_TIME", "06:00"))
    started = time.monotonic()
    with _output_to(logs / "dag-parse.log"):
        dag = _load_dag()
    print(f"Demo: nightly runs of {dag.dag_id} at {run_time:%H:%M} {tz.key}, {args.start} to {args.end}")
    print(f"Sample exports: {paths.PROJECT_ROOT / 'sample_data'}; outbox: {outbox}")
    nights = [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]
    failed = 0
    for i, day in enumerate(nights + nights[-1:]):
        logical = dt.datetime.combine(day, run_time, tz)
        rerun = i == len(nights)
        asked = logical + (RERUN_LATER if rerun else dt.timedelta(0))
        # Each night lives in its own time: rules that read the clock (no reminder after its
        # deadline) see the night being replayed, not today.
        _simulate(asked)
        night_log = logs / f"{day}{'-rerun' if rerun else ''}.log"
        with _output_to(night_log):
            # Asked for when the scheduler would (the night's time); the rerun an hour later, by
            # hand, as of the same night (a run of its own: the night's first run stays in Airflow).
            dr = dag.test(logical_date=asked, run_after=asked, run_conf={"as_of": logical.isoformat()})
        _simulate(None)
        write_task_logs(night_log, dag.dag_id, dr.run_id)
        state = str(getattr(dr.state, "value", dr.state))
        failed += state != "success"
        print_night(day, logical, dr.run_id, state + (", a rerun of the same date" if rerun else ""))
    emls = sorted(outbox.rglob("*.eml"))
    print(f"\n{len(emls)} emails in {shown(outbox)}: {per_kind(emls)}")
    if not args.no_journey:
        failed += journey_nights(nights, run_time, tz, logs, outbox, set(emls))
    print(f"Run folders (inputs, GX validation results, the instructor's report CSVs, summaries): {data_dir / 'runs'}")
    print(f"GX Data Docs of each run: {data_dir / 'runs'}/<cohort>/<run>/validation/data_docs/index.html")
    print(f"State database (the data team's run records: table run_reports): "
          f"{os.environ.get('AIRFLOW_CONN_ONBOARDING_STATE', '')}")
    print(f"Airflow task logs: {logs}")
    print("The Onboarding page (funnels, customers, charts) of these nights: run `bash scripts/airflow-ui.sh`, "
          "log in as instructor, and open Onboarding in Airflow's navigation")
    print(f"Demo took {time.monotonic() - started:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
