"""What a journey cohort may read beside the events export (docs/journeys/index.md): a stage done by
a timestamp column of a wide ``completions`` export, its CSM roster from a ``csms`` export, each
customer's language from the signup export, matched to a CSM's (``csm_match``), and its queries
from a support export (``queries``). Through every
stage of the pipeline on SQLite and PostgreSQL, with the hostile cells of ``journey_trial``."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

import journey_trial
from helpers import run_stages
from onboarding.cohorts import read_cohort_file
from onboarding.store import Store

LON = ZoneInfo("Europe/London")
NIGHT = dt.datetime(2026, 11, 28, 6, tzinfo=LON)


def _rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def test_wide_columns_a_roster_export_and_languages_decide_a_night(engine, tmp_path):
    cohort = read_cohort_file(journey_trial.write(tmp_path)).cohorts["trial-2026-11"]
    run_stages(engine, cohort, tmp_path, NIGHT, run_id="n1")

    # Each hostile cell is quarantined with its file, row and column, and a reason.
    quarantined = {(q["source"], q["source_row"], q["column_name"]): q["reason"] for q in _rows(
        engine, "SELECT source, source_row, column_name, reason FROM quarantine WHERE run_id = 'n1'")}
    assert set(quarantined) == {("completions", 5, "Verified"), ("csms", 4, "Capacity"), ("csms", 5, "Email"),
                                ("queries", 5, "Closed"), ("queries", 6, "Opened")}
    assert quarantined[("queries", 5, "Closed")] == "answered before it was asked"
    assert quarantined[("queries", 6, "Opened")] == "missing the time asked"
    assert "capacity is not a whole number" in quarantined[("csms", 4, "Capacity")]
    assert "listed again" in quarantined[("csms", 5, "Email")]

    # The roster is the export's good rows; customers are placed by language (DE matches de),
    # within capacity: Priya (en, capacity 1) takes Bob, Cai (en) waits, Mia's row being unusable.
    assert [r["email"] for r in Store(engine).staging.roster("n1", cohort.id)] == ["priya@example.com",
                                                                                     "jonas@example.com"]
    placed = {a["email"]: a["csm_email"] for a in Store(engine).journeys.csm_assignments(cohort.id)}
    assert placed == {"ann@x.org": "jonas@example.com", "bob@x.org": "priya@example.com"}
    status = {r["email"]: r["status"] for r in _rows(engine, "SELECT email, status FROM customer_status "
                                                              "WHERE run_id = 'n1'")}
    assert status["cai@x.org"] == "csm: waiting_for_csm"
    # Ann's wide cells completed verification and her first project (before she reached the stage:
    # done on entering it); her quiz score (91) approved her training automatically.
    assert status["ann@x.org"] == "done"
    # Dee's unreadable verification cell holds her: nothing is decided for her but the hold.
    assert status["dee@x.org"] == "held"
    emails = {(d["email"], d["kind"]): d["outcome"] for d in _rows(
        engine, "SELECT email, kind, outcome FROM decisions WHERE run_id = 'n1'")}
    assert not any(e == "dee@x.org" for e, _ in emails)
    assert emails[("eve@x.org", "verification:verification")] == "due"
    assert emails[("ann@x.org", "csm:csm_introduction")] == "due"
    assert ("cai@x.org", "csm:csm_introduction") not in emails
    run = Store(engine).runs.counts("n1", cohort.id)
    assert run["completion_rows"] == 4 and run["roster_rows"] == 4 and run["event_rows"] == 1
    assert run["query_rows"] == 5

    # The support export's open tickets: Ann's (a day old) waits on her CSM; Bob's open one (three
    # days) on the instructor, escalated; his answered ticket on nobody.
    queries = sorted((w["email"], w["item"], w["waits_on"], w["csm_email"], w["escalated"])
                     for w in Store(engine).journeys.waiting("n1", cohort.id) if w["standing"] == "open_query")
    assert queries == [("ann@x.org", "https://support.example.com/t/1", "csm", "jonas@example.com", 0),
                       ("bob@x.org", "https://support.example.com/t/2", "instructor", "priya@example.com", 1)]


def test_a_fixed_roster_takes_the_waiting_customer_on_the_next_night(engine, tmp_path):
    """The roster is read every night: Mia's capacity fixed in the export, Cai is placed with her."""
    cohort_file = journey_trial.write(tmp_path)
    cohort = read_cohort_file(cohort_file).cohorts["trial-2026-11"]
    run_stages(engine, cohort, tmp_path, NIGHT, run_id="n1")
    (tmp_path / "csms.csv").write_text(journey_trial.CSMS.replace("lots", "4"))
    run_stages(engine, cohort, tmp_path, NIGHT + dt.timedelta(days=1), run_id="n2")
    placed = {a["email"]: (a["csm_email"], a["run_id"]) for a in Store(engine).journeys.csm_assignments(cohort.id)}
    assert placed["cai@x.org"] == ("mia@example.com", "n2")
    assert placed["bob@x.org"] == ("priya@example.com", "n1")  # sticky
