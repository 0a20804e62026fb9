"""The analytics views (migrations 0007-0009) on SQLite and on PostgreSQL, with the answers worked
out by hand for the small cohort of ``analytics_cohort.py`` (its docstring shows the work)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

import analytics_cohort
from onboarding.store import Store


@pytest.fixture
def cohort(engine):
    analytics_cohort.write(engine)
    return Store(engine)


def test_latest_run_is_the_latest_decided_one(cohort):
    with cohort.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT cohort_id, run_id FROM v_latest_run ORDER BY cohort_id")).all()
    assert [tuple(r) for r in rows] == [("c1", "r1"), ("c2", "r1")]


def test_funnel(cohort):
    f = cohort.analytics.funnel("c1")
    assert {k: f[k] for k in ("run_id", "signed_up", "reminded", "completed", "on_time", "completed_late",
                              "missed", "pending", "held")} == {
        "run_id": "r1", "signed_up": 7, "reminded": 4, "completed": 4, "on_time": 3, "completed_late": 1,
        "missed": 1, "pending": 1, "held": 1}
    assert f["on_time_rate"] == pytest.approx(3 / 7)


def test_stage_funnel_time_in_stage_and_bottleneck(cohort):
    (s,) = cohort.analytics.stages("c1")
    assert (s["stage"], s["entered"], s["completed"], s["dropped"], s["held"], s["still_open"]) == (
        "onboarding", 7, 4, 1, 1, 1)
    assert s["conversion"] == pytest.approx(4 / 7) and s["drop_off"] == pytest.approx(1 / 7)
    assert s["median_hours"] == pytest.approx(48, abs=1e-6)
    assert s["p90_hours"] == pytest.approx(120, abs=1e-6)
    assert (s["timed"], s["done_before_open"]) == (4, 0)
    # One stage has no other to compare with: it is never "the bottleneck" (issue 23.11).
    assert cohort.analytics.bottleneck("c1") is None


def _journey(engine, cohort_id: str, visits: list[tuple]) -> None:
    """A journey cohort's latest run with these visits: (email, stage, order, outcome, entered, completed)."""
    day = "2026-12-{:02d}T{:02d}:00:00.000000Z".format
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (run_id, cohort_id, as_of, dry_run, status, started_at, updated_at) "
                             "VALUES ('j', :c, :t, 0, 'done', :t, :t)"), {"c": cohort_id, "t": day(20, 0)})
        for email, stage, order, outcome, entered, completed in visits:
            conn.execute(sa.text(
                "INSERT INTO journey_visits (run_id, cohort_id, email, stage, visit, entered_at, completed_at, outcome, "
                "stage_order) VALUES ('j', :c, :e, :s, 1, :en, :co, :o, :n)"),
                {"c": cohort_id, "e": email, "s": stage, "en": day(*entered), "o": outcome, "n": order,
                 "co": day(*completed) if completed else None})


def test_a_journey_stage_is_timed_over_those_who_did_it_after_it_opened(engine):
    """Known event times: a step done before its stage opened (a backlog seen at once) counts as
    completed but is not timed as 0 hours; the bottleneck is the stage losing the largest share."""
    _journey(engine, "j1", [
        ("a@x.org", "verify", 1, "completed", (1, 0), (1, 6)), ("b@x.org", "verify", 1, "completed", (1, 0), (1, 12)),
        ("c@x.org", "verify", 1, "completed", (1, 0), (2, 0)), ("d@x.org", "verify", 1, "missed", (1, 0), None),
        # b did the training on the 1st, before its stage opened on the 3rd (approved late)
        ("a@x.org", "train", 2, "approved", (1, 6), (3, 6)), ("b@x.org", "train", 2, "completed", (3, 0), (1, 18)),
        ("c@x.org", "train", 2, "missed", (2, 0), None)])
    stages = {s["stage"]: s for s in Store(engine).analytics.stages("j1")}
    train = stages["train"]
    assert (train["entered"], train["completed"], train["timed"], train["done_before_open"]) == (3, 2, 1, 1)
    assert train["median_hours"] == pytest.approx(48, abs=1e-6) and train["p90_hours"] == pytest.approx(48, abs=1e-6)
    assert stages["verify"]["median_hours"] == pytest.approx(12, abs=1e-6)  # 6, 12, 24: the 2nd
    b = Store(engine).analytics.bottleneck("j1")
    assert (b["stage"], b["dropped"]) == ("train", 1)  # 1 of 3 lost, against verify's 1 of 4


def test_a_one_stage_journey_and_a_journey_that_lost_nobody_have_no_bottleneck(engine):
    _journey(engine, "j2", [("a@x.org", "only", 1, "completed", (1, 0), (2, 0)),
                            ("b@x.org", "only", 1, "missed", (1, 0), None)])
    _journey(engine, "j3", [("a@x.org", "one", 1, "completed", (1, 0), (2, 0)),
                            ("a@x.org", "two", 2, "completed", (2, 0), (2, 5))])
    assert Store(engine).analytics.bottleneck("j2") is None and Store(engine).analytics.bottleneck("j3") is None


def test_reminder_effect_is_timed_by_the_night_that_sent_it(cohort):
    r = cohort.analytics.reminder_effect("c1")
    assert r["reminder_at"] == "2026-11-04T00:00:00.000000Z"
    assert (r["reminded"], r["completed_48h_after"], r["completed_7d_before"], r["reminded_completed_48h"],
            r["window_complete"]) == (4, 1, 2, 1, 1)
    assert r["per_day_after"] == pytest.approx(0.5)
    assert r["per_day_before"] == pytest.approx(2 / 7)
    assert r["lift"] == pytest.approx(1.75)
    # 2 completions before, 1 after: fewer than 30 on a side, not a reliable figure.
    assert (r["few_completions"], r["reliable_from"]) == (1, 30)
    assert cohort.analytics.reminder_effect("c2") is None  # never reminded: no row


def test_customer_journey_and_comparison(cohort):
    with cohort.engine.connect() as conn:
        a = conn.execute(sa.text("SELECT * FROM v_customer_journey WHERE email = 'a@x.org'")).mappings().one()
        e = conn.execute(sa.text("SELECT * FROM v_customer_journey WHERE email = 'e@x.org'")).mappings().one()
    assert a["signed_up_at"] == "2026-11-01T00:00:00.000000Z" and a["welcomed_at"] == "2026-12-10T00:00:00.000000Z"
    assert a["reminded_at"] is None
    assert (e["reminded_at"], e["cancelled_at"]) == ("2026-11-04T00:00:00.000000Z", "2026-12-10T00:00:00.000000Z")
    rows = {r["cohort_id"]: r for r in cohort.analytics.comparison()}
    assert set(rows) == {"c1", "c2"}
    assert rows["c1"]["median_hours"] == pytest.approx(48, abs=1e-6)
    assert rows["c1"]["reminder_lift"] == pytest.approx(1.75) and rows["c1"]["lift_few_completions"] == 1
    assert (rows["c2"]["signed_up"], rows["c2"]["missed"], rows["c2"]["reminder_lift"]) == (1, 1, None)


def test_cohorts_show_the_last_run_even_when_it_was_held(cohort):
    rows = {r["cohort_id"]: r for r in cohort.analytics.cohorts()}
    assert (rows["c1"]["last_run_id"], rows["c1"]["last_status"], rows["c1"]["decided_run_id"]) == ("r2", "held", "r1")
    assert rows["c1"]["last_error"] == "completions shrank by 40%"
    assert rows["c1"]["on_time"] == 3  # the standings are the decided run's


@pytest.mark.parametrize("search, found", [
    ("", 7), ("A@X", 1), ("d@x.org", 1), ("x.org", 7), ("%", 0), ("_", 0), ("nobody", 0)])
def test_customer_search_is_literal_and_case_blind(cohort, search, found):
    total, rows = cohort.analytics.customers("c1", search, page=1, page_size=5)
    assert total == found and len(rows) == min(found, 5)


def test_customer_history(cohort):
    h = cohort.analytics.customer("c1", " E@x.org ")
    assert [n["run_id"] for n in h["nights"]] == ["r0", "r1", "r2"]
    assert [n["status"] for n in h["nights"]] == ["missed", "missed", "missed"]
    assert sorted(e["kind"] for e in h["emails"]) == ["cancellation", "reminder"]


@pytest.mark.postgres
def test_postgresql_plans_the_stage_funnel_on_every_customer(pg_url, tmp_path):
    """PostgreSQL must know how many customers a course cohort's stage rows hold: it guessed one
    (the 'no journey visits' test read a windowed view it could not estimate) and joined 200,000
    customers' signups on the run alone, so the night's page figures ran for hours. The plan's row
    estimate is checked on a 3,000-customer cohort the pipeline loaded, and the page's figures
    come back inside a statement timeout."""
    from helpers import bench_pipeline
    from onboarding.reporting.page import PageReads
    from onboarding.store import db

    bench = bench_pipeline()
    folder = bench.generate(3000)
    store = Store(db.make_engine(pg_url))
    try:
        for name in ("migrate", "extract", "validate", "decide"):
            bench.stage(name, folder, pg_url, tmp_path / "runs", "bench")
        customers = store.analytics.funnel("bench")["signed_up"]
        with store.connection() as conn:
            (plan,) = conn.execute(sa.text(
                "EXPLAIN (FORMAT JSON) SELECT * FROM v_stage_funnel WHERE cohort_id = 'bench'")).scalar()

        def nodes(node):
            yield node
            for child in node.get("Plans", []):
                yield from nodes(child)

        (append,) = [n for n in nodes(plan["Plan"]) if n["Node Type"] == "Append"]
        assert append["Plan Rows"] >= customers / 2, (append["Plan Rows"], customers)
        with store.bounded(30) as tx:
            (stage,) = PageReads(tx, None).figures("bench")["stages"]
        assert stage["entered"] == customers
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"), store.bounded(1) as tx:
            with tx.connection() as conn:
                conn.execute(sa.text("SELECT pg_sleep(3)"))
    finally:
        store.engine.dispose()  # before the fixture drops its database
