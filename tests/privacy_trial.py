"""Erasure reaches Airflow's own database: a whole trial in a fresh Airflow home of its own (run by
``tests/test_airflow_db_privacy.py`` as a subprocess, so that its metadata database holds this
trial's nights only, on SQLite or PostgreSQL).

Nights of the journey sample run through the real DAG (``dag.test()``) with an approver answering
the approval requests through Airflow's REST API; the instructor resends one customer's email
(asked for on the Onboarding page's API, named by its reference in the trigger form); then that
customer is erased through the Onboarding page's API. Afterwards every column of every table of
Airflow's metadata database, and every task log file and line the trial logged, is searched for
her address, its local part and her name (result.json in <workdir>: what was found where).

    PRIVACY_TRIAL_OUTPUT=<file its output goes to> \
        python tests/privacy_trial.py <workdir> <gmail extra JSON> [<metadata database URL>]
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import sys
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COHORT = "saas-2026-11"


def _environment(work: Path, gmail_extra: str, db_url: str | None) -> None:
    home = work / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url or f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "ONBOARDING_DATA_DIR": str(work / "data"),
        "ONBOARDING_COHORTS_FILE": str(ROOT / "config" / "journey-cohorts.yaml"),
        "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(work / "state.db")}),
        "AIRFLOW_CONN_ONBOARDING_EMAIL": json.dumps({"conn_type": "generic", "extra": json.loads(gmail_extra)}),
    })
    if db_url:
        # psycopg (3) serves Airflow's async sessions too (it would look for asyncpg otherwise).
        os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = db_url
    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "privacy-trial-" + os.urandom(16).hex())
    sys.path.insert(0, str(ROOT / "tests"))


def _nights(dag, nights, conf_for, approver_headers, api):
    from zoneinfo import ZoneInfo

    from helpers import world_clock
    from airflow.dag_processing.dagbag import DagBag
    from onboarding.ops.approver import Approver, run_approvals

    approvals = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_approvals"]
    runs = []
    for i, night in enumerate(nights):
        # Always the whole form: dag.test() keeps the previous run's params on a reused DAG object.
        conf = {**{k: None for k in dag.params}, "cohort": "all", "dry_run": False, "resend": False,
                "kinds": ["reminder", "cancellation", "welcome", "stage"], **conf_for(night)}
        moment = dt.datetime.combine(night, dt.time(6), ZoneInfo("Australia/Sydney"))
        asked = moment + dt.timedelta(seconds=i)
        with Approver(api, approver_headers) as person, world_clock(asked.isoformat()):
            dr = dag.test(logical_date=moment, run_after=asked, run_conf=conf)
            # The night's requests wait in a run of the approvals Dag it triggered (not waited for).
            done = run_approvals(approvals, dr.run_id)
            assert done is None or str(getattr(done.state, "value", done.state)) == "success"
        assert not person.errors, person.errors
        runs.append((str(getattr(dr.state, "value", dr.state)), dr.run_id, person.answered))
    return runs


def _requests() -> dict[str, tuple]:
    """Every approval request in Airflow's database: its options, body and chosen options, by task."""
    from airflow.models.hitl import HITLDetail
    from airflow.utils.session import create_session

    with create_session() as session:
        return {str(d.ti_id): (list(d.options), d.body or "", list(d.chosen_options or []))
                for d in session.query(HITLDetail)}


def _her_requests(address: str) -> dict[str, tuple]:
    return {ti: r for ti, r in _requests().items() if any(address in o for o in r[0])}


def _texts(value) -> list[str]:
    """What a stored value says, as text: bytes decoded (and decompressed when zlib-compressed)."""
    if value is None:
        return []
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        out = [value.decode("utf-8", "replace")]
        try:
            out.append(zlib.decompress(value).decode("utf-8", "replace"))
        except zlib.error:
            pass
        return out
    if isinstance(value, (dict, list)):
        return [json.dumps(value, default=str)]
    return [str(value)]


def grep_metadata_database(needles: list[str]) -> dict[str, int]:
    """Every table of Airflow's metadata database, every column, every row: ``table.column`` ->
    rows whose value contains one of ``needles`` (case-insensitive)."""
    import sqlalchemy as sa
    from airflow import settings

    low = [n.lower() for n in needles]
    hits: dict[str, int] = {}
    engine = settings.engine
    insp = sa.inspect(engine)
    with engine.connect() as conn:
        for table in insp.get_table_names():
            cols = [c["name"] for c in insp.get_columns(table)]
            t = sa.table(table, *(sa.column(c) for c in cols))
            for row in conn.execute(sa.select(t)):
                for col, value in zip(cols, row):
                    text = " ".join(_texts(value)).lower()
                    if any(n in text for n in low):
                        hits[f"{table}.{col}"] = hits.get(f"{table}.{col}", 0) + 1
    return hits


def grep_files(folder: Path, needles: list[str]) -> dict[str, int]:
    low = [n.lower() for n in needles]
    hits = {}
    for p in folder.rglob("*"):
        if p.is_file():
            text = p.read_bytes().decode("utf-8", "replace").lower()
            n = sum(text.count(x) for x in low)
            if n:
                hits[str(p.relative_to(folder))] = n
    return hits


def main(work: Path, gmail_extra: str, db_url: str | None) -> dict:
    _environment(work, gmail_extra, db_url)
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import sqlalchemy as sa

    import ui_client
    from airflow.dag_processing.dagbag import DagBag
    from onboarding.resources import Resources

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    api = ui_client.client()
    admin = ui_client.bearer(ui_client.token("lena.approver", role="admin"))
    viewer = ui_client.bearer(ui_client.token("vic.viewer", role="viewer"))
    nights = [dt.date(2026, 11, 28), dt.date(2026, 11, 29)]
    first = _nights(dag, nights[:1], lambda n: {}, admin, api)
    store = Resources().store()

    def rows(sql, **params):
        with store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]

    # The person: on night 1's approval request, emailed that night.
    (req,) = store.journeys.requests(first[0][1])  # its people listed in rows of their own
    sent = {r["recipient"] for r in rows("SELECT recipient FROM email_ledger WHERE status = 'sent' "
                                         "AND cohort_id = :c", c=COHORT)}
    # (Her name is hers alone in the cohort: a namesake's entry stays where it is, rightly.)
    name_of = {r["email"]: r["name"] for r in rows("SELECT DISTINCT email, name FROM signups WHERE cohort_id = :c",
                                                   c=COHORT)}
    namesakes = Counter(n.lower() for n in name_of.values())
    address = next(e for e in req["people"] if e in sent and namesakes[name_of[e].lower()] == 1
                   and sum(e.split("@")[0] in o for o in name_of) == 1)
    (name,) = {r["name"] for r in rows("SELECT name FROM signups WHERE email = :e", e=address)}
    kind = rows("SELECT kind FROM email_ledger WHERE recipient = :e AND status = 'sent' ORDER BY kind",
                e=address)[0]["kind"]
    result = {"address_domain": address.split("@")[1], "first_night": first[0][0], "kind": kind}

    # The instructor asks for the resend on the page's API; the form names its reference.
    asked = api.post("/onboarding/api/resends", headers=admin,
                     json={"cohort": COHORT, "address": address, "kind": kind, "reason": "she deleted it by mistake"})
    assert asked.status_code == 201, asked.text
    ref = asked.json()["reference"]
    erasure = {"address": address, "cohort": "all", "reason": "asked by email, ticket 4711"}
    result["viewer_erase_status"] = api.post("/onboarding/api/erasures", headers=viewer, json=erasure).status_code
    second = _nights(dag, nights[1:], lambda n: {"resend": True, "resend_request": ref}, admin, api)
    before = _her_requests(address)
    erased = api.post("/onboarding/api/erasures", headers=admin, json=erasure)
    assert erased.status_code == 200, erased.text
    result["erasure"] = {k: erased.json()[k] for k in ("scope", "approval_requests_scrubbed")}
    result["audit"] = rows("SELECT requested_by, scope FROM erasures")
    # Her requests keep everyone else: one option fewer each, the same number of table rows less one.
    after = {ti: (len(o), b.count("\n"), len(c or [])) for ti, (o, b, c) in _requests().items() if ti in before}
    result["requests_after_vs_before"] = [(after[ti], (len(o) - 1, b.count("\n") - 1, len(c or []) - (
        1 if any(address in x for x in c or []) else 0))) for ti, (o, b, c) in before.items()]
    third = _nights(dag, [dt.date(2026, 11, 30)], lambda n: {}, admin, api)
    result["nights"] = [s for s, _, _ in first + second + third]
    result["resend_night"] = second[0][0]
    result["approvals_answered"] = sum(len(a) for _, _, a in first + second + third)
    # Also as an approval request's table writes them (every Markdown-active character escaped).
    from onboarding.decisions.approvals import _cell

    needles = list(dict.fromkeys([address, address.split("@")[0], name, _cell(address),
                                  _cell(address.split("@")[0]), _cell(name)]))
    from airflow import settings

    result["metadata_db"] = settings.engine.dialect.name
    result["metadata_db_hits"] = grep_metadata_database(needles)
    result["log_file_hits"] = grep_files(Path(os.environ["AIRFLOW_HOME"]) / "logs", needles)
    result["log_files"] = sum(1 for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*") if p.is_file())
    # dag.test() runs the tasks in this process and prints their logs to its output, which the
    # caller sends to a file: searched as it stands now, after the erasure.
    text = Path(os.environ["PRIVACY_TRIAL_OUTPUT"]).read_text(errors="replace").lower()
    result["logged_lines"] = text.count("\n")
    result["logged_hits"] = sum(text.count(n.lower()) for n in needles)
    result["state_db_hits"] = sum(1 for t in sa.inspect(store.engine).get_table_names()
                                  for r in rows(f"SELECT * FROM {t}")  # noqa: S608 - the database's own names
                                  if any(n.lower() in " ".join(map(str, r.values())).lower() for n in needles))
    return result


if __name__ == "__main__":
    out = main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None)
    Path(sys.argv[1], "result.json").write_text(json.dumps(out))
