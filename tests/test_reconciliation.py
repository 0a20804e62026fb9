"""Reconciliation in SQL (include/sql) against a real state database."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from helpers import local
from onboarding.decisions.rules import customers_of
from onboarding.store import Store
from onboarding.store import db as state
from onboarding.times import iso


def reconcile(engine, run_id, as_of):
    store = Store(engine)
    return customers_of(store.staging.reconcile(run_id, "c1", as_of)), store.staging.orphans(run_id, "c1", as_of)

UTC = dt.timezone.utc


def stage(engine, signups, completions, quarantine=()):
    import pandas as pd

    from onboarding.validation.gx import QuarantinedRow

    def frame(rows):
        return pd.DataFrame(rows, columns=["row", "email", "name", "timestamp"], dtype=object)

    Store(engine).staging.replace(
        "r1", "c1", frame([(i + 2, e, n, t) for i, (e, n, t) in enumerate(signups)]),
        frame([(i + 2, e, None, t) for i, (e, t) in enumerate(completions)]),
        [QuarantinedRow(q[0], "f", q[1], "x", "", "r", q[2]) for q in quarantine])


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
    customers, orphans = reconcile(engine, "r1", local(2026, 12, 5))
    by = {c.email: c for c in customers}
    assert set(by) == {"a@x.org", "b@x.org"}  # late@ signed up after as_of
    assert by["a@x.org"].name == "Ann New"  # newest signup row wins
    assert by["a@x.org"].completed_at == dt.datetime(2026, 11, 19, tzinfo=UTC)  # earliest completion
    assert by["b@x.org"].completed_at is None
    assert [o["email"] for o in orphans] == ["orphan@x.org"]  # qsign@ has a (quarantined) signup


def test_quarantined_completion_holds_the_customer(engine):
    stage(engine, signups=[("a@x.org", "A", None)], completions=[],
          quarantine=[("completions", 5, "a@x.org")])
    (c,), _ = reconcile(engine, "r1", local(2026, 12, 5))
    assert c.held and c.completed_at is None


def test_offsets_compare_as_instants(engine):
    """Stored as UTC text, a Sydney-offset and a 'Z' timestamp of the same instant compare equal."""
    t_z = dt.datetime.fromisoformat("2026-12-04T13:00:00+00:00")
    t_syd = dt.datetime.fromisoformat("2026-12-05T00:00:00+11:00")
    assert iso(t_z) == iso(t_syd)
    stage(engine, signups=[("a@x.org", "A", None)], completions=[("a@x.org", t_syd)])
    (c,), _ = reconcile(engine, "r1", t_z)
    assert c.completed_at == t_z


def test_migrations_apply_once(engine):
    assert state.migrate(engine) == []
    with engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_migrations"))]
    assert versions == [v for v, _ in state.migrations(engine.dialect.name)] and versions[:3] == ["0001", "0002", "0003"]
