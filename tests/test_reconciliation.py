"""Reconciliation in SQL (include/sql) against a real state database."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from helpers import local, make_cohort
from onboarding import state
from onboarding.pipeline import RunContext, reconcile

UTC = dt.timezone.utc


def stage(engine, signups, completions, quarantine=()):
    key = {"run_id": "r1", "cohort_id": "c1"}
    with engine.begin() as conn:
        conn.execute(state.sql("insert_signup"), [
            {**key, "source_row": i + 2, "email": e, "name": n, "signed_up_at": state.iso(t)}
            for i, (e, n, t) in enumerate(signups)])
        if completions:
            conn.execute(state.sql("insert_completion"), [
                {**key, "source_row": i + 2, "email": e, "name": None, "completed_at": state.iso(t)}
                for i, (e, t) in enumerate(completions)])
        for q in quarantine:
            conn.execute(state.sql("insert_quarantine"), {**key, "source": q[0], "source_row": q[1],
                                                          "column_name": "x", "reason": "r", "file": "f",
                                                          "value": "", "email": q[2]})


def test_join_collapses_duplicates_and_finds_orphans(engine):
    stage(engine,
          signups=[("a@x.org", "Ann Old", None), ("b@x.org", "Bob", None), ("a@x.org", "Ann New", None),
                   ("late@x.org", "Late Signup", local(2026, 12, 10))],
          completions=[("a@x.org", dt.datetime(2026, 11, 20, tzinfo=UTC)),
                       ("a@x.org", dt.datetime(2026, 11, 19, tzinfo=UTC)),
                       ("b@x.org", dt.datetime(2026, 12, 9, tzinfo=UTC)),  # after as_of: not yet
                       ("orphan@x.org", dt.datetime(2026, 11, 18, tzinfo=UTC)),
                       ("qsign@x.org", dt.datetime(2026, 11, 18, tzinfo=UTC))],
          quarantine=[("signups", 9, "qsign@x.org")])
    ctx = RunContext("r1", local(2026, 12, 5))
    with engine.connect() as conn:
        customers, orphans = reconcile(conn, make_cohort(), ctx)
    by = {c.email: c for c in customers}
    assert set(by) == {"a@x.org", "b@x.org"}  # late@ signed up after as_of
    assert by["a@x.org"].name == "Ann New"  # newest signup row wins
    assert by["a@x.org"].completed_at == dt.datetime(2026, 11, 19, tzinfo=UTC)  # earliest completion
    assert by["b@x.org"].completed_at is None
    assert [o["email"] for o in orphans] == ["orphan@x.org"]  # qsign@ has a (quarantined) signup


def test_quarantined_completion_holds_the_customer(engine):
    stage(engine, signups=[("a@x.org", "A", None)], completions=[],
          quarantine=[("completions", 5, "a@x.org")])
    with engine.connect() as conn:
        (c,), _ = reconcile(conn, make_cohort(), RunContext("r1", local(2026, 12, 5)))
    assert c.held and c.completed_at is None


def test_offsets_compare_as_instants(engine):
    """Stored as UTC text, a Sydney-offset and a 'Z' timestamp of the same instant compare equal."""
    t_z = dt.datetime.fromisoformat("2026-12-04T13:00:00+00:00")
    t_syd = dt.datetime.fromisoformat("2026-12-05T00:00:00+11:00")
    assert state.iso(t_z) == state.iso(t_syd)
    stage(engine, signups=[("a@x.org", "A", None)], completions=[("a@x.org", t_syd)])
    with engine.connect() as conn:
        (c,), _ = reconcile(conn, make_cohort(), RunContext("r1", t_z))
    assert c.completed_at == t_z


def test_migrations_apply_once(engine):
    assert state.migrate(engine) == []
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_migrations"))]
    assert versions == [v for v, _ in state.migrations()] and versions[:3] == ["0001", "0002", "0003"]
