"""The journey sample through the real DAG (``dag.test()``): the 19-step SaaS onboarding of
config/journey-cohorts.yaml, emails through the fake Gmail server, and the approval requests
answered by an approver through Airflow's REST API (the api-server app in this process, sharing
the metadata database) while the night runs."""
from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from onboarding.ops.approver import Approver, waiting_rows
from helpers import world_clock

ROOT = Path(__file__).resolve().parents[1]
LONDON = ZoneInfo("Europe/London")
COHORT = "saas-2026-11"
pytestmark = pytest.mark.dagrun
_RUNS = itertools.count()


@pytest.fixture
def journey_dag(airflow_db, airflow_env, monkeypatch):
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(ROOT / "config" / "journey-cohorts.yaml"))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]


@pytest.fixture
def approvals_dag(journey_dag):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_approvals"]


def run_night(dag, night: dt.date, approvals=None, **conf):
    """One night's nightly run; with ``approvals`` (the approvals Dag), then the approvals run it
    triggered (answered meanwhile by whoever is answering), as the scheduler would start it."""
    conf = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": None,
            "kinds": ["reminder", "cancellation", "welcome", "stage"], "resend": False, "resend_request": None,
            **conf}
    moment = dt.datetime.combine(night, dt.time(6), ZoneInfo("Australia/Sydney"))
    asked = moment + dt.timedelta(seconds=next(_RUNS))
    with world_clock(asked.isoformat()):
        dr = dag.test(logical_date=moment, run_after=asked, run_conf=conf)
        if approvals is not None:
            from onboarding.ops.approver import run_approvals

            done = run_approvals(approvals, dr.run_id)
            assert done is None or str(getattr(done.state, "value", done.state)) == "success"
    return str(getattr(dr.state, "value", dr.state)), dr.run_id


def per_night_by_run(per_night):
    return {run: sent for run, sent in per_night.values()}


def rows(sql: str, **params):
    from onboarding.resources import Resources

    with Resources().store().engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def test_the_journey_sample_night_by_night_with_approvals_answered_through_the_api(journey_dag, approvals_dag,
                                                                                   fake_google, airflow_env):
    import ui_client

    api = ui_client.client()
    approver = ui_client.bearer(ui_client.token("lena.approver", role="admin"))
    nights = [dt.date(2026, 11, 28), dt.date(2026, 11, 29), dt.date(2026, 11, 30)]
    seen: set[str] = set()
    per_night = {}
    answers = {}
    for night in nights:
        with Approver(api, approver) as person:
            state, run_id = run_night(journey_dag, night, approvals=approvals_dag)
        assert not person.errors, person.errors
        assert state == "success", night
        new = {mid: m for mid, m in fake_google.sent.items() if mid not in seen}
        seen |= set(new)
        per_night[night] = (run_id, new)
        answers[night] = person.answered

    # Each night's requests were asked in an approvals run of their own, named by the nightly
    # run's id alone (no person in its conf); the XComs that map its approval tasks name each
    # request and stay small whatever its list.
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        confs = {r.conf["nightly_run_id"]: (r.run_id, r.conf) for r in session.query(DagRun).filter(
            DagRun.dag_id == "onboarding_approvals")}
        assert set(confs) >= {run for run, _ in per_night.values()}
        mine = [confs[run][0] for run, _ in per_night.values()]
        asked = [x.value for x in session.query(XComModel).filter(
            XComModel.dag_id == "onboarding_approvals", XComModel.task_id == "approval_requests",
            XComModel.run_id.in_(mine))]
    assert all(set(confs[run][1]) == {"nightly_run_id"} for run, _ in per_night.values())
    assert len(asked) == len(nights) and all(0 < len(v) and len(json.dumps(v)) < 1024 for v in asked)

    # Night 1: one request for the details stage (the instructor's), everyone who submitted.
    run1, sent1 = per_night[nights[0]]
    from onboarding.resources import Resources

    (req,) = Resources().store().journeys.requests(run1)  # its body with each listed customer's line
    assert req["stage"] == "details" and req["approver"] == "instructor" and req["answered_by"] == "lena.approver"
    (answer,) = answers[nights[0]]
    assert answer["subject"] == req["subject"] and len(answer["options"]) > 100
    rejected = [line.split(":")[0] for line in answer["reject"].splitlines()]
    assert rejected, "the sample has incomplete details to reject"
    decided = rows("SELECT email, decision, decided_by, reason FROM approvals WHERE cohort_id = :c "
                   "AND request LIKE :r", c=COHORT, r=f"{run1}/approve/%")
    assert {d["decided_by"] for d in decided} == {"lena.approver"}
    assert {d["email"] for d in decided if d["decision"] == "rejected"} == set(rejected)
    assert all(d["reason"] for d in decided if d["decision"] == "rejected")

    # Night 2: the approved are placed with a CSM (within capacity, least loaded), whose
    # introduction goes out in the CSM's name; the rejected are asked for their details again.
    run2, sent2 = per_night[nights[1]]
    placed = rows("SELECT email, csm_email, csm_name, run_id FROM csm_assignments WHERE cohort_id = :c AND run_id = :r",
                  c=COHORT, r=run2)
    approved = {d["email"] for d in decided if d["decision"] == "approved"}
    assert placed and {p["email"] for p in placed} <= approved
    load = {}
    for p in placed:
        load[p["csm_email"]] = load.get(p["csm_email"], 0) + 1
    from onboarding.cohorts import read_yaml
    from onboarding.journeys import journeys_from

    journeys = ROOT / "config" / "journeys.yaml"
    roster = journeys_from(read_yaml(journeys), journeys)["saas-onboarding"].csms
    capacity = {c.email: c.capacity for c in roster}
    assert all(load[c] <= capacity[c] for c in load)
    waiting_csm = rows("SELECT email FROM journey_visits WHERE run_id = :r AND outcome = 'waiting_for_csm'", r=run2)
    assert len(placed) + len(waiting_csm) == len(approved)  # over capacity: they wait, told to the instructor
    # Matched on language (the signup export's column): a customer's CSM speaks it; one waits only
    # when every CSM of their language is full.
    with open(ROOT / "sample_data" / COHORT / "signups.csv", encoding="utf-8") as fh:
        language = {r["Email"].strip().lower(): r["Language"] for r in csv.DictReader(fh)}
    speaks = {c.email: c.attribute("language") for c in roster}
    assert all(not language[p["email"]] or speaks[p["csm_email"]] == language[p["email"]] for p in placed)
    assert {speaks[p["csm_email"]] for p in placed} == {"en", "de"}
    for w in waiting_csm:
        assert language[w["email"]] and all(load.get(c, 0) == capacity[c] for c in capacity
                                            if speaks[c] == language[w["email"]])
    # Each in the customer's language: German to the German accounts (docs/journeys/languages.md).
    intros = [m for m in sent2.values() if "Meet your customer success manager" in m["subject"]
              or "Ihre persönliche Ansprechperson" in m["subject"]]
    assert len(intros) == len(placed)
    by_customer = {p["email"]: p for p in placed}
    for m in intros:
        to = m["to"].rsplit("<", 1)[1].rstrip(">")
        csm = by_customer[to]
        assert m["from"] == f"{csm['csm_name']} <{csm['csm_email']}>"
        assert csm["csm_name"] in m["text"]
        assert m["text"].startswith("Hallo " if language[to] == "de" else "Hi "), to
    assert any(language[m["to"].rsplit("<", 1)[1].rstrip(">")] == "de" for m in intros)
    again = [m for m in sent2.values() if ("Tell us about your team" in m["subject"]
                                           or "Erzählen Sie uns von Ihrem Team" in m["subject"])
             and m["to"].rsplit("<", 1)[1].rstrip(">") in rejected]
    assert {m["to"].rsplit("<", 1)[1].rstrip(">") for m in again} == set(rejected)
    keys = rows("SELECT email_key FROM email_ledger WHERE recipient IN ({}) AND kind = 'details:details_form'".format(
        ",".join(f"'{e}'" for e in rejected)))
    assert any(k["email_key"].endswith("|visit2") for k in keys)

    # Every email at most once; each through the ledger; none to anyone erased, suppressed or unknown.
    everything = [m for _, sent in per_night.values() for m in sent.values()]
    ledger = rows("SELECT provider_message_id, recipient, kind FROM email_ledger WHERE cohort_id = :c "
                  "AND status = 'sent' AND kind NOT IN ('summary', 'digest') AND kind NOT LIKE 'team_digest_%'",
                  c=COHORT)
    team = rows("SELECT provider_message_id FROM email_ledger WHERE cohort_id = :c "
                "AND (kind = 'digest' OR kind LIKE 'team_digest_%')", c=COHORT)
    summaries = rows("SELECT provider_message_id FROM email_ledger WHERE cohort_id = :c AND kind = 'summary'", c=COHORT)
    assert len(summaries) == len(nights)  # the instructor's summary, one a night
    assert sorted(r["provider_message_id"] for r in ledger) == sorted(
        mid for _, sent in per_night.values() for mid in sent
        if mid not in {s["provider_message_id"] for s in summaries + team})
    twice = {}
    for r in rows("SELECT email_key, recipient, kind FROM email_ledger WHERE cohort_id = :c AND status = 'sent' "
                  "AND kind NOT IN ('summary', 'digest') AND kind NOT LIKE 'team_digest_%'", c=COHORT):
        twice.setdefault((r["recipient"], r["kind"]), []).append(r["email_key"])
    for (who, kind), keys in twice.items():  # the same kind twice only for a second visit, after a rejection
        if len(keys) > 1:
            assert kind == "details:details_form" and who in rejected and sorted(keys)[1] == sorted(keys)[0] + "|visit2"
    accounts = set()
    with open(ROOT / "sample_data" / COHORT / "signups.csv", encoding="utf-8") as fh:
        accounts = {r["Email"].strip().lower() for r in csv.DictReader(fh)}
    assert "nobody.here@acme.io" not in {m["to"] for m in everything}
    assert all(r["recipient"] in accounts for r in ledger)
    # The approver's request lists each waiting customer with their evidence link.
    listed = waiting_rows(req["body"])
    assert len(listed) == len(req["people"]) > 100
    assert all(r["link"].startswith("https://forms.example.com/details/") for r in listed)

    # The instructor's status tab (CSV, and her sheet when configured): stage, since when, the CSM.
    import re

    folder = airflow_env / "data" / "runs" / COHORT / re.sub(r"[^A-Za-z0-9._-]+", "_", run2) / "report"
    with open(folder / "status.csv", encoding="utf-8-sig") as fh:
        status = list(csv.DictReader(fh))
    assert list(status[0]) == ["Email", "Name", "Stage: standing", "Signed up at", "In this stage since", "Due", "CSM",
                               "Emails sent"]
    by_email = {r["Email"]: r for r in status}
    for p in placed:
        assert by_email[p["email"]]["CSM"] == f"{p['csm_name']} <{p['csm_email']}>"
    assert len(status) == rows("SELECT COUNT(*) AS n FROM customer_status WHERE run_id = :r", r=run2)[0]["n"]

    # The CSMs' digests: once a night each, to the CSMs with customers waiting on them; the
    # instructor's share is in her summary.
    digests = rows("SELECT recipient, decided_run_id, status FROM email_ledger WHERE cohort_id = :c AND kind = 'digest'",
                   c=COHORT)
    assert digests and {d["recipient"] for d in digests} <= set(capacity) and {d["status"] for d in digests} == {"sent"}
    assert len({(d["recipient"], d["decided_run_id"]) for d in digests}) == len(digests)
    for d in digests:
        run = d["decided_run_id"]
        mine = rows("SELECT COUNT(*) AS n FROM journey_waiting WHERE run_id = :r AND waits_on = 'csm' AND csm_email = :e",
                    r=run, e=d["recipient"])[0]["n"]
        # (A CSM of the sample's Customer success team may get that team's digest too: another email.)
        (mail,) = [m for m in per_night_by_run(per_night)[run].values() if m["to"].endswith(f"<{d['recipient']}>")
                   and "wait on you" in m["subject"]]
        assert mail["subject"].startswith(f"{COHORT}: {mine} customer item(s) wait on you")
    csm_requests = rows("SELECT stage, approver, subject FROM approval_requests WHERE approver != 'instructor'")
    assert csm_requests and all(r["approver"] in capacity and "customers of" in r["subject"] for r in csm_requests)
    summary3 = [m for m in per_night[nights[2]][1].values() if "onboarding run as of" in m["subject"]]
    assert summary3 and "WAITING ON YOU" in summary3[0]["text"] and "wait for your approval" in summary3[0]["text"]

    # Each night replays to the same decisions from its copied exports (approvals and placements
    # made later are not read by an earlier moment).
    from onboarding.cohorts import read_cohort_file
    from onboarding.ops.replay import replay
    from onboarding.resources import Resources

    cohort = read_cohort_file().cohorts[COHORT]
    for run, _ in per_night.values():
        assert replay(Resources().store(), cohort, run) == [], run

    # The next nights: whoever is still waiting is listed again; answered requests record their author.
    for night in nights[1:]:
        run, _ = per_night[night]
        for r in rows("SELECT * FROM approval_requests WHERE run_id = :r", r=run):
            assert r["answered_by"] == "lena.approver"

    # The Onboarding page: the journey's stages in order (entered, completed, dropped out), and its
    # customers by stage and standing, counted from the latest night as the status tab counts them.
    viewer = ui_client.bearer(ui_client.token("instructor"))
    page = api.get(f"/onboarding/api/cohorts/{COHORT}", headers=viewer).json()
    stages = [(s["stage"], s["title"]) for s in page["stages"]]
    assert stages[:3] == [("verification", "Verify your email address"), ("details", "Tell us about your team"),
                          ("csm", "Meet your customer success manager")]
    entered = {s["stage"]: s["entered"] for s in page["stages"]}
    assert entered["verification"] >= entered["details"] >= entered["csm"] > 0
    last = rows("SELECT status, COUNT(*) AS n FROM customer_status WHERE run_id = :r GROUP BY status",
                r=per_night[nights[-1]][0])
    shown = {(r["stage"], r["standing"]): r["n"] for r in page["journey_rows"]}
    assert sum(shown.values()) == sum(r["n"] for r in last)
    assert shown[("details", "awaiting approval")] == next(r["n"] for r in last
                                                          if r["status"] == "details: awaiting_approval")
    assert page["journey_rows"][0]["stage"] == "verification" and page["journey_rows"][-1]["stage"] == ""
    html = api.get(f"/onboarding/cohorts/{COHORT}", headers={**viewer, "accept": "text/html"}).text
    assert 'id="journey-standings"' in html and "Customers per stage" in html
    # Every report names the CSM: the page's customer list and the customer's own page too.
    one = placed[0]
    found = api.get(f"/onboarding/api/cohorts/{COHORT}", params={"q": one["email"]}, headers=viewer).json()
    assert [(c["email"], c["csm_name"], c["csm_email"]) for c in found["customers"]] == [
        (one["email"], one["csm_name"], one["csm_email"])]
    person = api.get(f"/onboarding/api/cohorts/{COHORT}/customers/{one['email']}", headers=viewer).json()
    assert [a["csm_email"] for a in person["csm"]] == [one["csm_email"]]


def test_a_journey_reading_a_wide_export_and_a_roster_export_through_the_dag(airflow_db, airflow_env, fake_google,
                                                                           monkeypatch, tmp_path):
    """The DAG's glue for the exports a journey may read beside the events export (``journey_trial``):
    the wide export's columns complete stages, the roster comes from the cohort's ``csms`` export
    with its bad rows quarantined, customers meet a CSM of their language, in that CSM's name."""
    import re

    import journey_trial
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(journey_trial.write(tmp_path)))
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    state, run_id = run_night(dag, dt.date(2026, 11, 28))
    assert state == "success"
    mine = [m for m in fake_google.sent.values() if m["to"].rsplit("<", 1)[-1].rstrip(">").endswith("@x.org")]
    sent = {(m["to"].rsplit("<", 1)[1].rstrip(">"), m["subject"]): m for m in mine}
    intro = next(m for (to, subject), m in sent.items() if to == "ann@x.org" and subject.startswith("csm:"))
    assert intro["from"] == "Jonas Weber <jonas@example.com>"  # the roster export's CSM, matched on language
    bob = next(m for (to, subject), m in sent.items() if to == "bob@x.org" and subject.startswith("csm:"))
    assert bob["from"] == "Priya Raman <priya@example.com>"
    assert {to for to, _ in sent} == {"ann@x.org", "bob@x.org", "eve@x.org"}  # Dee held, Cai waits for a CSM
    folder = airflow_env / "data" / "runs" / "trial-2026-11" / re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) / "report"
    with open(folder / "status.csv", encoding="utf-8-sig") as fh:
        status = {r["Email"]: r for r in csv.DictReader(fh)}
    assert status["cai@x.org"]["Stage: standing"] == "csm: waiting_for_csm"
    assert status["ann@x.org"]["CSM"] == "Jonas Weber <jonas@example.com>"
    quarantined = rows("SELECT source, source_row, column_name FROM quarantine WHERE run_id = :r", r=run_id)
    assert {(q["source"], q["source_row"], q["column_name"]) for q in quarantined} == {
        ("completions", 5, "Verified"), ("csms", 4, "Capacity"), ("csms", 5, "Email"), ("queries", 5, "Closed"),
        ("queries", 6, "Opened")}
    # Jonas's digest lists Ann's open ticket; Bob's, open for three days, is in the instructor's summary.
    digest = next(m for m in fake_google.sent.values() if m["to"].endswith("<jonas@example.com>"))
    assert "https://support.example.com/t/1" in digest["text"]
    summary = next(m for m in fake_google.sent.values() if m["to"] == "lead@example.com" and "run as of" in m["subject"])
    assert "https://support.example.com/t/2" in summary["text"]

    # The instructor asks on the Onboarding page to resend Ann's CSM introduction (a journey's
    # email, by <stage>:<kind>) and names the request's reference in the trigger form the next
    # night: sent again once, under a key of its own, with her reason. No address in the form.
    import ui_client

    api, instructor = ui_client.client(), ui_client.bearer(ui_client.token("instructor", role="user"))

    def ask(address, reason):
        r = api.post("/onboarding/api/resends", headers=instructor, json={
            "cohort": "trial-2026-11", "address": address, "kind": "csm:csm_introduction", "reason": reason})
        assert r.status_code == 201, r.text
        return r.json()["reference"]

    ref = ask("Ann@x.org", "she deleted it by mistake")
    assert rows("SELECT email, requested_by FROM resend_requests WHERE reference = :r", r=ref) == [
        {"email": "ann@x.org", "requested_by": "instructor"}]
    state, run2 = run_night(dag, dt.date(2026, 11, 29), cohort="trial-2026-11", resend_request=ref)
    assert state == "success"
    again = rows("SELECT email_key, status, requested_reason FROM email_ledger WHERE recipient = 'ann@x.org' "
                 "AND kind = 'csm:csm_introduction' ORDER BY email_key")
    assert [(r["status"], r["requested_reason"]) for r in again] == [("sent", None), ("sent", "she deleted it by mistake")]
    assert again[1]["email_key"] == f"{again[0]['email_key']}|resend|{run2}"
    # Both nights replay to the same decisions from their copied exports (the roster export's too).
    from onboarding.cohorts import read_cohort_file
    from onboarding.ops.replay import replay
    from onboarding.resources import Resources

    cohort = read_cohort_file().cohorts["trial-2026-11"]
    assert replay(Resources().store(), cohort, run_id) == [] and replay(Resources().store(), cohort, run2) == []
    # A resend of an email that never went out stops the cohort's run before anything is decided.
    state, run3 = run_night(dag, dt.date(2026, 11, 30), cohort="trial-2026-11",
                            resend_request=ask("cai@x.org", "never got it"))
    assert state == "failed"
    (run,) = rows("SELECT status, error FROM runs WHERE run_id = :r", r=run3)
    assert run["status"] == "failed" and "no csm:csm_introduction went out to cai@x.org" in run["error"]
