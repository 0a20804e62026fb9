"""What the set-based, column-at-a-time path must keep true at any size: bulk loads round-trip
every value exactly (on SQLite and PostgreSQL's COPY), the whole-cohort rules decide for each
customer what they decide for that customer alone, and the instructor's summary and spreadsheet
stay within their limits. (Speed and memory are measured by scripts/bench_pipeline.py, not here.)"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import csv_cohort, local, make_cohort, run_stages
from onboarding import pipeline
from onboarding.decisions.rules import Customer, customer_frame, decide, decide_all
from onboarding.delivery.senders import outbox_factory
from onboarding.reporting import sheet
from onboarding.resources import Resources
from onboarding.run import RunContext
from onboarding.store import Store
from onboarding.validation.gx import QuarantinedRow

UTC = dt.timezone.utc
AWKWARD = ["tab\there", "new\nline", 'quote " and, comma', "back\\slash", "Zoë 王芳", "\\N", "", "NULL", " "]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1),
                                                  timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=11)),
                                                                             dt.timezone(dt.timedelta(hours=-9, minutes=-30))]))),
                max_size=40), st.integers(1, 7))
def test_a_column_of_instants_is_written_as_each_one_alone_is(values, chunk):
    """The column-at-a-time text of instants (made a chunk at a time, as Arrow text) is exactly the
    one-value form, missing ones missing, whatever the chunk's size against the column's."""
    from onboarding import times

    original, times._ISO_CHUNK = times._ISO_CHUNK, chunk
    try:
        out = pd.Series(times.iso_column(pd.Series(values, dtype=object))).tolist()
    finally:
        times._ISO_CHUNK = original
    assert [None if v != v else v for v in out] == [times.iso(v) for v in values]


def test_bulk_loads_round_trip_every_value_exactly(engine):
    """COPY's text format (PostgreSQL) and executemany (SQLite) both keep tabs, newlines, quotes,
    backslashes, a literal \\N and missing values as they were."""
    names = [f"{v}-{i}" for i, v in enumerate(AWKWARD)]
    signups = pd.DataFrame({"row": range(2, 2 + len(names)), "email": [f"p{i}@x.org" for i in range(len(names))],
                            "name": names, "timestamp": [None] * len(names)})
    completions = pd.DataFrame({"row": [2, 3], "email": ["p0@x.org", "p1@x.org"], "name": [None, "x"],
                                "timestamp": [dt.datetime(2026, 11, 20, tzinfo=UTC), local(2026, 11, 21)]})
    quarantined = [QuarantinedRow("completions", "f,\t\"x\"", 9, "Done", "a\nb\\N", "why", "p2@x.org")]
    store = Store(engine)
    store.staging.replace("r1", "c1", signups, completions, quarantined)
    got = store.staging.reconcile("r1", "c1", local(2026, 12, 5)).set_index("email")
    assert [got.loc[f"p{i}@x.org", "name"] for i in range(len(names))] == names
    assert got.loc["p0@x.org", "completed_at"] == pd.Timestamp("2026-11-20T00:00:00Z")
    assert got.loc["p1@x.org", "completed_at"] == pd.Timestamp(local(2026, 11, 21))
    assert pd.isna(got.loc["p3@x.org", "completed_at"]) and bool(got.loc["p2@x.org", "held"])
    (q,) = store.reports.quarantine("r1", "c1")
    assert (q["file"], q["value"]) == ("f,\t\"x\"", "a\nb\\N")


customers = st.lists(st.builds(
    Customer, email=st.integers(0, 10**6).map(lambda i: f"c{i}@x.org"), name=st.just("N"),
    completed_at=st.one_of(st.none(), st.datetimes(min_value=dt.datetime(2026, 11, 1), max_value=dt.datetime(
        2026, 12, 10)).map(lambda d: d.replace(tzinfo=UTC))),
    held=st.booleans()), max_size=30, unique_by=lambda c: c.email)
statuses = st.sampled_from(["sent", "unconfirmed", "claimed", "drafted", "pending", "failed", "superseded"])


@settings(max_examples=150, deadline=None)
@given(people=customers, night=st.integers(-6, 3), ledger=st.lists(
    st.tuples(st.integers(0, 29), st.sampled_from(["reminder", "cancellation", "welcome"]), statuses), max_size=20))
def test_the_whole_cohort_rules_decide_for_each_customer_what_they_decide_alone(people, night, ledger):
    cohort = make_cohort(welcome_timing="on_completion") if night % 2 else make_cohort()
    as_of = local(2026, 12, 4) + dt.timedelta(days=night)
    known = {}
    for i, kind, status in ledger:
        if i < len(people):
            known.setdefault(people[i].email, {})[kind] = status
    frame = pd.DataFrame([{"recipient": e, "kind": k, "status": s} for e, ks in known.items() for k, s in ks.items()],
                         columns=["recipient", "kind", "status"])
    _, together = decide_all(customer_frame(people), cohort, as_of, frame)
    alone = [d for c in people for d in decide(c, cohort, as_of, known.get(c.email, {}))]
    assert [tuple(r) for r in together[["email", "kind", "outcome", "reason"]].itertuples(index=False)] == [
        (d.email, d.kind, d.outcome, d.reason) for d in alone]


# --- the instructor's report at size -----------------------------------------------------------
@pytest.fixture
def many(tmp_path):
    """A cohort of 70 customers, none complete: on 2 Dec each is due a reminder."""
    rows = "".join(f"l{i:03d}@x.org,Learner {i:03d},2026-11-01T10:00\n" for i in range(70))
    (tmp_path / "signups.csv").write_text("Email,Name,When\n" + rows)
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n")
    return csv_cohort(tmp_path)


def run(engine, cohort, tmp_path, sheets=None):
    return run_stages(engine, cohort, tmp_path, local(2026, 12, 2), sheets=sheets)


def test_the_summary_names_the_first_of_each_list_and_the_csv_has_everyone(engine, many, tmp_path):
    ctx, _ = run(engine, many, tmp_path)
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "Emails sent this run: 70" in summary
    assert "Learner 049 <l049@x.org>" in summary and "Learner 050" not in summary  # the first 50, by name
    assert "... and 20 more: every email is in the email log (emails.csv, attached)" in summary
    assert "Not on time as of this run: 70" in summary and "... and 20 more: everyone is in the status table" in summary
    with open(ctx.folder("c1") / "report" / "status.csv", encoding="utf-8-sig") as fh:
        assert len(list(csv.reader(fh))) == 71  # header and every customer


def test_the_spreadsheet_is_written_in_batches_and_refused_when_too_large(engine, many, tmp_path, fake_google,
                                                                         monkeypatch):
    key = "1BigSheetKey000"
    fake_google.add_spreadsheet(key, {"Her notes": [["keep"]]})
    cohort = dataclasses.replace(many, instructor_sheet={"spreadsheet": key, "connection": "onboarding_google"})
    sheets = Resources(connections={"onboarding_google": {"conn_type": "generic",
                                                          "extra": fake_google.google_extra()}}).sheet_writer
    monkeypatch.setattr(sheet, "SHEET_BATCH_ROWS", 25)
    ctx, result = run(engine, cohort, tmp_path, sheets)
    assert result["sheet"]["rows"] == {"status": 70, "emails": 70, "quarantine": 0}
    # Sized once, then the values in requests of 25 rows or more: 71 + 71 + 2 rows in 5 requests.
    assert fake_google.sheet_writes == ["sheets.batchUpdate"] + ["sheets.values.batchUpdate"] * 5
    with open(ctx.folder("c1") / "report" / "status.csv", encoding="utf-8-sig") as fh:
        from fake_google import _trim

        assert _trim(list(csv.reader(fh))) == fake_google.sheet_values(key, "c1 status")
    # Too large for a spreadsheet: nothing written there, and she is told; the task goes on.
    fake_google.sheet_writes.clear()
    monkeypatch.setattr(sheet, "SHEET_CELL_LIMIT", 500)
    ctx = RunContext("night-2", local(2026, 12, 3), False, tmp_path / "data")
    store = Store(engine)
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)
    # The send stage too, as the DAG runs it: a report finding the run still 'decided' says the
    # send task failed.
    pipeline.send(store, cohort, ctx, lambda: outbox_factory(tmp_path / "outbox"))
    result = pipeline.report(store, cohort, ctx, lambda: outbox_factory(tmp_path / "outbox"), sheets)
    assert fake_google.sheet_writes == [] and "sheet" not in result
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "YOUR SPREADSHEET WAS NOT UPDATED (too large for a Google Sheet: the tables need" in summary
    assert "a Google Sheet holds at most 500" in summary and "the run retries it" not in summary
