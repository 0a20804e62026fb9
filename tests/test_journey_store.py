"""The journey tables on SQLite and PostgreSQL (migration 0016): event rows in bulk (COPY on
PostgreSQL), sticky CSM assignments, a run's approval requests and who waits on whom rewritten by a
retry, approvals recorded once; and erasure takes a person out of every one of them, token-exact."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from onboarding.store import Store

UTC = dt.timezone.utc


def _events(*emails: str) -> pd.DataFrame:
    rows = [{"row": i + 2, "email": e, "name": None, "event": "details_submitted",
             "timestamp": dt.datetime(2026, 11, 20, 9, i, tzinfo=UTC), "value": 71.5 if i % 2 else None,
             "link": f"https://forms.example.com/{i}\t\"x\""} for i, e in enumerate(emails)]
    return pd.DataFrame(rows)


def test_the_journey_tables_keep_what_each_run_saw_and_erasure_clears_them(engine):
    store = Store(engine)
    signups = pd.DataFrame({"row": [2, 3], "email": ["ann@x.org", "joann@x.org"], "name": ["Ann", "Jo Ann"],
                            "timestamp": [dt.datetime(2026, 11, 19, tzinfo=UTC)] * 2})
    for attempt in range(2):  # a retry of the validate stage replaces what it staged
        store.staging.replace("r1", "c1", signups, None, [], events=_events("ann@x.org", "joann@x.org"))
    events = store.staging.events("r1", "c1", dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert [(e["email"], e["value"], e["link"]) for e in events] == [
        ("ann@x.org", None, 'https://forms.example.com/0\t"x"'), ("joann@x.org", 71.5, 'https://forms.example.com/1\t"x"')]
    assert store.staging.events("r1", "c1", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC))[0]["email"] == "ann@x.org"
    assert len(store.staging.events("r1", "c1", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC))) == 1  # as of the moment
    assert set(store.staging.first_signups("r1", "c1", dt.datetime(2026, 12, 1, tzinfo=UTC))) == {"ann@x.org",
                                                                                                  "joann@x.org"}

    row = {"email": "ann@x.org", "csm_email": "priya@example.com", "csm_name": "Priya", "assigned_at": "2026-11-21T00:00:00+00:00"}
    assert store.journeys.assign_csms("c1", "r1", [row, {**row, "email": "joann@x.org"}]) == 2
    store.journeys.assign_csms("c1", "r2", [{**row, "csm_email": "mia@example.com"}])  # sticky: ignored
    assert [(a["email"], a["csm_email"], a["run_id"]) for a in store.journeys.csm_assignments("c1")] == [
        ("ann@x.org", "priya@example.com", "r1"), ("joann@x.org", "priya@example.com", "r1")]

    request = {"stage": "details", "approver": "instructor", "subject": "c1: approve details (2 waiting)",
               "body": "| customer |", "options": ["Ann <ann@x.org>", "Jo Ann <joann@x.org>"],
               "people": ["ann@x.org", "joann@x.org"], "lines": ["| Ann &lt;ann@x.org&gt; |", "| Jo Ann &lt;joann@x.org&gt; |"]}
    store.journeys.replace_requests("r1", "c1", [request, {**request, "approver": "priya@example.com"}])
    store.journeys.replace_requests("r1", "c1", [request])  # a retry of decide rewrites them
    (got,) = store.journeys.requests("r1")
    assert got["options"] == request["options"] and got["people"] == request["people"] and got["answered_by"] is None
    assert got["body"] == "| customer |\n| Ann &lt;ann@x.org&gt; |\n| Jo Ann &lt;joann@x.org&gt; |"
    store.journeys.answered("r1", "c1", "details", "instructor", "lena", "2026-11-21T07:00:00+00:00")
    assert store.journeys.requests("r1")[0]["answered_by"] == "lena"

    waiting = [{"email": e, "item": "details", "standing": "awaiting_approval", "waits_on": "instructor",
                "csm_email": None, "since": "2026-11-20T09:00:00+00:00", "escalated": 0} for e in ("ann@x.org", "joann@x.org")]
    store.journeys.replace_waiting("r1", "c1", waiting)
    store.journeys.replace_waiting("r1", "c1", waiting[:1] + waiting[1:])
    assert [w["email"] for w in store.journeys.waiting("r1", "c1")] == ["ann@x.org", "joann@x.org"]

    decision = {"email": "ann@x.org", "stage": "details", "decision": "approved", "decided_at": "2026-11-21T07:00:00+00:00",
                "decided_by": "lena", "reason": None}
    assert store.journeys.record_approvals("c1", [decision], request="r1/approve/0") == 1
    store.journeys.record_approvals("c1", [decision, {**decision, "email": "joann@x.org"}], request="r1/approve/0")
    assert len(store.journeys.approvals("c1")) == 2  # the same answer again adds nothing

    counts = store.erasures.delete_person("ann@x.org", "*", lambda text: text)
    for table in ("journey_events", "csm_assignments", "approval_request_people", "journey_waiting", "approvals"):
        assert counts.get(table, 0) >= 1, (table, counts)
    assert [e["email"] for e in store.staging.events("r1", "c1", dt.datetime(2026, 12, 1, tzinfo=UTC))] == ["joann@x.org"]
    assert [a["email"] for a in store.journeys.csm_assignments("c1")] == ["joann@x.org"]
    assert [w["email"] for w in store.journeys.waiting("r1", "c1")] == ["joann@x.org"]
    assert [a["email"] for a in store.journeys.approvals("c1")] == ["joann@x.org"]
    # The request lists Jo Ann alone now: her option and her line of its table stay, Ann's are gone.
    (got,) = store.journeys.requests("r1")
    assert (got["people"], got["options"]) == (["joann@x.org"], ["Jo Ann <joann@x.org>"])
    assert got["body"] == "| customer |\n| Jo Ann &lt;joann@x.org&gt; |" and got["answered_by"] == "lena"


def test_erasing_a_journey_customer_leaves_no_trace_in_the_run_folder_or_the_tables(engine, tmp_path):
    """The journey sample's night through every stage, then one customer erased: their rows leave
    the events snapshot as well as the signups' (and every journey table), replay still agrees."""
    import sqlalchemy as sa

    from helpers import run_stages
    from onboarding.cohorts import read_cohort_file
    from onboarding.ops.replay import replay
    from onboarding.pipeline.erasure import erase
    from onboarding.paths import PROJECT_ROOT

    cohort = read_cohort_file(PROJECT_ROOT / "config" / "journey-cohorts.yaml").cohorts["saas-2026-11"]
    victim = "paul.rossi.0@acme.io"  # signed up first: verified, details sent, waiting for approval
    ctx, _ = run_stages(engine, cohort, tmp_path, dt.datetime(2026, 11, 28, 6, tzinfo=UTC), run_id="n1")
    snapshot = next((tmp_path / "data").rglob("inputs/events.csv"))
    assert victim in snapshot.read_text()
    result = erase(Store(engine), victim, "*", {cohort.id: cohort}, str(tmp_path / "data"), [str(tmp_path / "outbox")],
                   "dpo", "asked by email")
    assert result["snapshot_rows_removed"] >= 3  # a signup row and at least two event rows
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".txt", ".html", ".eml"):
            assert victim not in path.read_text(errors="replace"), path
    with engine.connect() as conn:
        for table in ("journey_events", "journey_visits", "journey_waiting", "customer_status", "email_ledger"):
            column = "recipient" if table == "email_ledger" else "email"
            assert not conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :e"), {"e": victim}).scalar()
    assert replay(Store(engine), cohort, "n1") == []


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def before_0021(request, tmp_path):
    """A state database migrated up to (not including) 0021, as a deployment was before it."""
    import conftest
    from onboarding import sqlfiles
    from onboarding.store import db as state

    gen = None
    if request.param == "sqlite":
        eng = state.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        gen = conftest._postgres_database()
        eng = state.make_engine(next(gen))
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL, "
                             "applied_at TEXT NOT NULL)"))
        for version, path in state.migrations(eng.dialect.name):
            if version >= "0021":
                break
            for stmt in sqlfiles.statements(path.read_text(encoding="utf-8")):
                conn.exec_driver_sql(stmt)
            conn.execute(sa.text("INSERT INTO schema_migrations VALUES (:v, :n, 'then')"), {"v": version, "n": path.name})
    try:
        yield eng
    finally:
        eng.dispose()
        if gen:
            next(gen, None)


def test_migration_0021_gives_each_listed_person_a_row_of_their_own(before_0021):
    """The JSON lists of the requests made before 0021 become rows (in order, each with their
    option); the requests read as before, and an erasure then takes one person out of one."""
    from onboarding.store import db as state

    people = ["ann@x.org", "jo_ann@x.org", "joann@x.org"]
    body = "3 wait.\n\n| customer |\n|---|\n" + "\n".join(f"| N &lt;{e}&gt; |" for e in people)
    with before_0021.begin() as conn:
        conn.execute(sa.text("INSERT INTO approval_requests (run_id, cohort_id, stage, approver, subject, body, "
                             "options, people) VALUES ('r1', 'c1', 'details', 'instructor', 's', :b, :o, :p)"),
                     {"b": body, "o": json.dumps([f"N <{e}>" for e in people]), "p": json.dumps(people)})
    assert [n.split("_")[0] for n in state.migrate(before_0021)][0] == "0021"
    store = Store(before_0021)
    (got,) = store.journeys.requests("r1")
    assert (got["people"], got["options"], got["body"]) == (people, [f"N <{e}>" for e in people], body)
    assert {"people", "options"}.isdisjoint(c["name"] for c in sa.inspect(before_0021).get_columns("approval_requests"))

    from onboarding.pipeline.erasure import address_pattern, scrub_text, without_lines

    token = address_pattern("joann@x.org")
    counts = store.erasures.delete_person("joann@x.org", "*", lambda t: scrub_text(t, token),
                                          lambda t: scrub_text(without_lines(t, token), token))
    assert counts == {"approval_requests (text)": 1, "approval_request_people": 1}
    (got,) = store.journeys.requests("r1")
    assert got["people"] == people[:2] and got["body"] == body.rsplit("\n", 1)[0] + "\n"


def test_an_unreadable_event_row_holds_its_customer_and_the_names_seen_are_the_cohorts(engine):
    """Issue 22: a quarantined row of the events export holds the customer it names (as the wide
    export's does); the event names seen are every run's of the cohort, up to the moment."""
    from onboarding.validation.gx import QuarantinedRow

    store = Store(engine)
    signups = pd.DataFrame({"row": [2, 3], "email": ["ann@x.org", "joann@x.org"], "name": ["Ann", "Jo Ann"],
                            "timestamp": [dt.datetime(2026, 11, 19, tzinfo=UTC)] * 2})
    bad = QuarantinedRow("events", "events.csv", 4, "At", "2026-02-30 10:00", "not a date", "joann@x.org")
    store.staging.replace("r1", "c1", signups, None, [bad], events=_events("ann@x.org"))
    held = store.staging.reconcile("r1", "c1", dt.datetime(2026, 12, 1, tzinfo=UTC)).set_index("email")["held"]
    assert held.to_dict() == {"ann@x.org": False, "joann@x.org": True}
    later = _events("ann@x.org").assign(event="account_verified")
    store.staging.replace("r2", "c1", signups, None, [], events=later)
    store.staging.replace("r1", "c2", signups, None, [], events=_events("ann@x.org").assign(event="other_cohorts"))
    assert store.staging.event_names("c1", dt.datetime(2026, 12, 1, tzinfo=UTC)) == {"details_submitted",
                                                                                      "account_verified"}
    assert store.staging.event_names("c1", dt.datetime(2026, 11, 1, tzinfo=UTC)) == frozenset()
