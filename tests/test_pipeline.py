"""The stages of a cohort's run, end to end without Airflow: exports in, emails and a summary out."""
from __future__ import annotations

import datetime as dt
import re
import email
import email.policy
import json

import pytest
import sqlalchemy as sa

from helpers import csv_cohort, local
from onboarding import pipeline
from onboarding.delivery.senders import outbox_factory
from onboarding.errors import DatasetError, SheetNotUpdated
from onboarding.resources import Resources
from onboarding.run import RunContext
from onboarding.store import Store

SHEETS = Resources().sheet_writer  # the instructor's sheet, through the onboarding_google connection


@pytest.fixture
def cohort(tmp_path):
    (tmp_path / "signups.csv").write_text(
        "Email,Name,When\n"
        "ann@x.org,Ann,2026-11-01T10:00\n"
        "BOB@x.org ,Bob,2026-11-01T11:00\n"
        "bad-address,Carl,2026-11-01T12:00\n"
        "dee@x.org,Dee,2026-11-02T12:00\n")
    (tmp_path / "completions.csv").write_text(
        "user_email,completed_at\n"
        "ann@x.org,2026-11-20T01:00:00Z\n"
        "stranger@x.org,2026-11-21T01:00:00Z\n"
        "dee@x.org,not a time\n")
    return csv_cohort(tmp_path)


def run(engine, cohort, tmp_path, as_of, run_id, dry_run=False):
    ctx = RunContext(run_id, as_of, dry_run, tmp_path / "data")
    store = Store(engine)
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    pipeline.extract(store, cohort, ctx)
    pipeline.validate(store, cohort, ctx)
    pipeline.decide(store, cohort, ctx)
    pipeline.send(store, cohort, ctx, outbox)
    pipeline.report(store, cohort, ctx, outbox, SHEETS)
    return ctx


def outbox(tmp_path, kind):
    return sorted(p.name.split(".onb-")[0] for p in (tmp_path / "outbox" / "c1" / kind).glob("*.eml")) \
        if (tmp_path / "outbox" / "c1" / kind).exists() else []


def test_stages_send_the_right_emails_and_tell_the_instructor(engine, cohort, tmp_path):
    ctx = run(engine, cohort, tmp_path, local(2026, 12, 2), "night-1")
    assert outbox(tmp_path, "reminder") == ["bob@x.org"]  # Ann is done, Dee held, Carl quarantined
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "Emails sent this run: 1" in summary
    assert "reminder     Bob <bob@x.org>" in summary
    assert "on hold (a row naming them was quarantined) Dee <dee@x.org>" in summary
    assert 'row 4, column "Email": invalid email address (bad-address)' in summary
    assert 'row 4, column "completed_at": unparseable timestamp (expected ISO 8601) (not a time)' in summary
    assert "stranger@x.org (completed 2026-11-21 12:00 AEDT, row 3)" in summary
    (instructor_mail,) = (tmp_path / "outbox" / "c1" / "summary").glob("*.eml")
    msg = email.message_from_bytes(instructor_mail.read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "boss@example.edu"
    assert "1 sent" in msg["Subject"] and "2 rows quarantined" in msg["Subject"]
    # What needs her comes first; the charts are inline images the HTML shows by cid, with the
    # same numbers as text for mail clients that block images; the full tables are attached.
    text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
    assert text.index("WHAT NEEDS YOU") < text.index("Customers") < text.index("Emails sent this run")
    assert "2 export row(s) could not be used" in text and "/" + tmp_path.name not in text
    images = {p["Content-ID"]: p for p in msg.walk() if p.get_content_type() == "image/png"}
    assert set(images) == {"<funnel@onboarding>", "<completions@onboarding>"}
    assert all(p.get_content()[:8] == b"\x89PNG\r\n\x1a\n" for p in images.values())
    assert 'src="cid:funnel@onboarding"' in html and 'src="cid:completions@onboarding"' in html
    assert "completed on time" in text and "on hold (a row naming them was quarantined)" in text
    assert sorted(p.get_filename() for p in msg.iter_attachments()) == ["emails.csv", "quarantine.csv", "status.csv"]

    # The night after the deadline: Bob is cancelled, Ann welcomed; Bob's reminder is not resent.
    run(engine, cohort, tmp_path, local(2026, 12, 5), "night-2")
    assert outbox(tmp_path, "reminder") == ["bob@x.org"]
    assert outbox(tmp_path, "cancellation") == ["bob@x.org"]
    assert outbox(tmp_path, "welcome") == ["ann@x.org"]
    # The same night again: nothing new, and the decisions say why.
    run(engine, cohort, tmp_path, local(2026, 12, 5), "night-2-rerun")
    assert len(list((tmp_path / "outbox" / "c1").rglob("*.eml"))) == 3 + 3  # 3 customer emails, 3 summaries
    with engine.connect() as conn:
        outcomes = dict(conn.execute(sa.text(
            "SELECT email || ':' || kind, outcome FROM decisions WHERE run_id = 'night-2-rerun'")).all())
        events = conn.execute(sa.text("SELECT COUNT(*) FROM ledger_events WHERE event = 'sent'")).scalar()
    assert outcomes == {"ann@x.org:welcome": "already_sent", "bob@x.org:cancellation": "already_sent"}
    assert events == 6


def test_dry_run_sends_customers_nothing_and_her_what_would_go_out(engine, cohort, tmp_path):
    ctx = run(engine, cohort, tmp_path, local(2026, 12, 5), "dry", dry_run=True)
    previews = sorted(p.name for p in (ctx.folder("c1") / "preview").iterdir())
    assert previews == ["cancellation__bob@x.org.eml", "welcome__ann@x.org.eml"]
    # Only her summary went out, marked as a dry run, listing what would have been sent.
    assert sorted(p.name for p in (tmp_path / "outbox" / "c1").iterdir()) == ["summary"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT kind, recipient FROM email_ledger")).all() == [("summary", "boss@example.edu")]
    (mail,) = (tmp_path / "outbox" / "c1" / "summary").glob("*.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("[DRY RUN] ")
    text = msg.get_body(("plain",)).get_content()
    assert "DRY RUN: nothing was sent" in text and "Emails that would be sent: 2" in text
    assert "cancellation Bob <bob@x.org>" in text and "welcome      Ann <ann@x.org>" in text
    assert "It was a dry run: nothing was sent to customers" in text
    # The full lists travel with it, whatever the cohort's size (up to the attachment limit).
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert sorted(files) == ["emails.csv", "quarantine.csv", "status.csv", "would_send.csv"]
    would = [line.split(",")[:2] for line in files["would_send.csv"].lstrip("\ufeff").splitlines()]
    assert would == [["Kind", "Email"], ["cancellation", "bob@x.org"], ["welcome", "ann@x.org"]]
    assert "would_send.csv, attached" in text


def test_a_later_run_supersedes_an_email_no_longer_due(engine, cohort, tmp_path):
    """A reminder decided but never attempted (say the send task never ran) is not sent after
    the deadline: the next run marks it superseded."""
    ctx = RunContext("n1", local(2026, 12, 2), False, tmp_path / "data")
    pipeline.extract(Store(engine), cohort, ctx)
    pipeline.validate(Store(engine), cohort, ctx)
    pipeline.decide(Store(engine), cohort, ctx)  # Bob's reminder: pending in the ledger
    run(engine, cohort, tmp_path, local(2026, 12, 5), "n2")
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM email_ledger WHERE kind = 'reminder'")).scalar()
    assert status == "superseded" and outbox(tmp_path, "reminder") == []


def test_unusable_export_fails_before_anything_is_decided(engine, cohort, tmp_path):
    (tmp_path / "completions.csv").write_text("")
    ctx = RunContext("n1", local(2026, 12, 5), False, tmp_path / "data")
    pipeline.extract(Store(engine), cohort, ctx)
    with pytest.raises(DatasetError, match="completions export is empty"):
        pipeline.validate(Store(engine), cohort, ctx)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, error FROM runs WHERE run_id = 'n1'")).one()
    assert row.status == "failed" and "completions.csv" in row.error


def test_a_run_replays_from_its_copied_inputs(engine, cohort, tmp_path):
    from onboarding.ops.replay import replay

    ctx = run(engine, cohort, tmp_path, local(2026, 12, 5), "night-2")
    # The live export changes afterwards; the replay reads the run's own copy and decides the same.
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nbob@x.org,2026-11-20T01:00:00Z\n")
    assert replay(Store(engine), cohort, "night-2") == []
    # A tampered copy is caught by its checksum.
    copy = ctx.folder("c1") / "inputs" / "completions.csv"
    copy.chmod(0o644)
    copy.write_text("user_email,completed_at\n")
    (diff,) = replay(Store(engine), cohort, "night-2")
    assert "sha256" in diff and "differs from the recorded" in diff


def test_empty_completion_export_never_cancels_the_cohort(engine, cohort, tmp_path):
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n")
    # Before the deadline a header-only export is plausible: reminders go out.
    run(engine, cohort, tmp_path, local(2026, 12, 2), "before")
    assert outbox(tmp_path, "reminder") == ["ann@x.org", "bob@x.org", "dee@x.org"]
    # After it, the run refuses to decide rather than cancel everyone.
    ctx = RunContext("after", local(2026, 12, 5), False, tmp_path / "data")
    pipeline.extract(Store(engine), cohort, ctx)
    pipeline.validate(Store(engine), cohort, ctx)
    with pytest.raises(DatasetError, match="refusing to cancel all 3 customers"):
        pipeline.decide(Store(engine), cohort, ctx)
    assert outbox(tmp_path, "cancellation") == []


def test_guards_hold_a_run_and_a_release_sends_it(engine, cohort, tmp_path):
    import dataclasses
    import os

    from onboarding.cohorts import GuardConfig

    guarded = dataclasses.replace(cohort, guards=GuardConfig(max_source_age=dt.timedelta(hours=36),
                                                             max_completion_shrink=0.2, max_cancel_share=0.3))
    # The completion export was last changed three days before the run: stale.
    stamp = local(2026, 12, 2).timestamp()
    os.utime(tmp_path / "completions.csv", (stamp, stamp))
    os.utime(tmp_path / "signups.csv", (stamp, stamp))
    ctx = run(engine, guarded, tmp_path, local(2026, 12, 5), "held-run")
    assert not (tmp_path / "outbox" / "c1" / "cancellation").exists()
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "THIS RUN WAS HELD AND SENT NOTHING TO CUSTOMERS" in summary
    assert "stale_source: the completions export" in summary and "72 hours" in summary
    assert "mass_cancellation: this run would cancel 1 of 3 customers (33%; limit 30%)" in summary
    assert "Release guards: stale_source, mass_cancellation" in summary
    with engine.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT DISTINCT outcome FROM decisions WHERE run_id = 'held-run'")).scalars().all()
        assert conn.execute(sa.text("SELECT COUNT(*) FROM email_ledger WHERE kind <> 'summary'")).scalar() == 0
    assert outcomes == ["held"]
    # The instructor checks the exports and releases both guards: the emails go, the run records it.
    released = RunContext("released-run", local(2026, 12, 5), False, tmp_path / "data",
                                   release_guards=("mass_cancellation", "stale_source"))
    pipeline.extract(Store(engine), guarded, released)
    pipeline.validate(Store(engine), guarded, released)
    pipeline.decide(Store(engine), guarded, released)
    pipeline.send(Store(engine), guarded, released, lambda: outbox_factory(tmp_path / "outbox"))
    assert outbox(tmp_path, "cancellation") == ["bob@x.org"]
    with engine.connect() as conn:
        guards = conn.execute(sa.text("SELECT guards FROM runs WHERE run_id = 'released-run'")).scalar()
    assert {g["guard"]: g["released"] for g in json.loads(guards)} == {"stale_source": True, "mass_cancellation": True}


def test_a_shrunk_completion_export_holds_the_run(engine, cohort, tmp_path):
    import dataclasses

    from onboarding.cohorts import GuardConfig

    guarded = dataclasses.replace(cohort, guards=GuardConfig(max_source_age=None, max_completion_shrink=0.2,
                                                             max_cancel_share=None))
    run(engine, guarded, tmp_path, local(2026, 12, 1), "n1")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nann@x.org,2026-11-20T01:00:00Z\n")
    ctx = run(engine, guarded, tmp_path, local(2026, 12, 2), "n2")
    assert "shrunk_completions: the completion export has 1 rows, 3 at the previous run" in \
        (ctx.folder("c1") / "summary.txt").read_text()


def test_a_released_shrink_guard_sends(engine, cohort, tmp_path):
    import dataclasses

    from onboarding.cohorts import GuardConfig

    guarded = dataclasses.replace(cohort, guards=GuardConfig(max_source_age=None, max_completion_shrink=0.2,
                                                             max_cancel_share=None))
    run(engine, guarded, tmp_path, local(2026, 12, 1), "n1")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nann@x.org,2026-11-20T01:00:00Z\n")
    ctx = RunContext("n2-released", local(2026, 12, 5), False, tmp_path / "data",
                              release_guards=("shrunk_completions",))
    pipeline.extract(Store(engine), guarded, ctx)
    pipeline.validate(Store(engine), guarded, ctx)
    counts = pipeline.decide(Store(engine), guarded, ctx)
    assert "held_by_guards" not in counts and counts["cancellation_due"] == 2  # Bob, and Dee now missing
    with engine.connect() as conn:
        guards = conn.execute(sa.text("SELECT guards FROM runs WHERE run_id = 'n2-released'")).scalar()
    assert json.loads(guards)[0]["guard"] == "shrunk_completions" and json.loads(guards)[0]["released"] is True


# --- the instructor's spreadsheet --------------------------------------------------------------

SHEET_ID = "1InstructorSheetKey"


@pytest.fixture
def with_sheet(cohort, fake_google, monkeypatch):
    import dataclasses

    fake_google.add_spreadsheet(SHEET_ID, {"My notes": [["keep me"]]})
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_GOOGLE", json.dumps({"conn_type": "generic",
                                                                     "extra": fake_google.google_extra()}))
    return dataclasses.replace(cohort, instructor_sheet={
        "spreadsheet": f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit", "connection": "onboarding_google"},
        data_team=("data@example.edu",))


def test_each_run_rewrites_the_instructors_sheet_and_csv_files(engine, with_sheet, fake_google, tmp_path):
    import csv

    ctx = run(engine, with_sheet, tmp_path, local(2026, 12, 2), "night-1")
    status = fake_google.sheet_values(SHEET_ID, "c1 status")
    assert status[0][:3] == ["Email", "Name", "Status"]
    by_email = {r[0]: r for r in status[1:]}
    assert by_email["ann@x.org"][2] == "on time"
    # The same words as her summary and the Onboarding page (onboarding/words.py).
    assert by_email["bob@x.org"][2] == "not yet" and by_email["bob@x.org"][5].startswith("sent 2026-")
    assert by_email["dee@x.org"][2] == "on hold"
    assert fake_google.sheet_values(SHEET_ID, "c1 emails")[1][1:3] == ["reminder", "bob@x.org"]
    quarantine = fake_google.sheet_values(SHEET_ID, "c1 quarantine")
    assert {(r[0], r[2], r[3], r[5]) for r in quarantine[1:]} == {
        ("signups", "4", "Email", "invalid email address"),
        ("completions", "4", "completed_at", "unparseable timestamp (expected ISO 8601)")}
    assert fake_google.sheet_values(SHEET_ID, "My notes") == [["keep me"]]  # her own tabs are untouched
    # Three requests per cohort: read the tabs, size them, write the values.
    assert fake_google.sheet_writes == ["sheets.batchUpdate", "sheets.values.batchUpdate"]
    assert "Your spreadsheet is updated (c1 status, c1 emails, c1 quarantine)" in \
        (ctx.folder("c1") / "summary.txt").read_text()
    with open(ctx.folder("c1") / "report" / "status.csv", encoding="utf-8-sig") as fh:
        from fake_google import _trim

        assert _trim(list(csv.reader(fh))) == status  # the CSV files hold the same tables

    # After the deadline the same customers move on; the sheet is rewritten, never appended to.
    before = {t: fake_google.sheet_values(SHEET_ID, f"c1 {t}") for t in ("status", "quarantine")}
    run(engine, with_sheet, tmp_path, local(2026, 12, 5), "night-2")
    status = fake_google.sheet_values(SHEET_ID, "c1 status")
    assert len(status) == len(before["status"])
    assert {r[0]: r[2] for r in status[1:]}["bob@x.org"] == "missed"
    assert fake_google.sheet_values(SHEET_ID, "c1 quarantine") == before["quarantine"]
    # A rerun of the same run leaves exactly the same tabs.
    snapshot = {t: fake_google.sheet_values(SHEET_ID, f"c1 {t}") for t in ("status", "emails", "quarantine")}
    run(engine, with_sheet, tmp_path, local(2026, 12, 5), "night-2")
    assert {t: fake_google.sheet_values(SHEET_ID, f"c1 {t}") for t in snapshot} == snapshot


def test_sheet_writes_back_off_on_429(engine, with_sheet, fake_google, tmp_path):
    fake_google.script("sheets.values.batchUpdate", "429", "429")
    run(engine, with_sheet, tmp_path, local(2026, 12, 2), "night-1")
    assert fake_google.faults_served["429"] == 2
    assert len(fake_google.sheet_values(SHEET_ID, "c1 status")) == 4  # header + Ann, Bob, Dee


def test_a_sheet_that_cannot_be_written_is_reported_and_retried(engine, with_sheet, fake_google, tmp_path):
    fake_google.not_shared.add(SHEET_ID)
    with pytest.raises(SheetNotUpdated, match="the instructor's Google Sheet was not updated"):
        run(engine, with_sheet, tmp_path, local(2026, 12, 2), "night-1")
    ctx = RunContext("night-1", local(2026, 12, 2), False, tmp_path / "data")
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "YOUR SPREADSHEET WAS NOT UPDATED" in summary
    assert "The same tables are attached: status.csv, emails.csv, quarantine.csv" in summary
    # The retry (the report task again) writes it; the summary is not sent twice.
    fake_google.not_shared.clear()
    pipeline.report(Store(engine), with_sheet, ctx, lambda: outbox_factory(tmp_path / "outbox"), SHEETS)
    assert len(fake_google.sheet_values(SHEET_ID, "c1 status")) == 4
    assert len(list((tmp_path / "outbox" / "c1" / "summary").glob("*.eml"))) == 1


def test_dry_runs_and_failed_runs_leave_the_sheet_alone(engine, with_sheet, fake_google, tmp_path):
    ctx = run(engine, with_sheet, tmp_path, local(2026, 12, 2), "dry", dry_run=True)
    assert fake_google.sheet_writes == [] and (ctx.folder("c1") / "report" / "status.csv").exists()
    (tmp_path / "signups.csv").write_text("Nope\n1\n")
    ctx = RunContext("broken", local(2026, 12, 2), False, tmp_path / "data")
    pipeline.extract(Store(engine), with_sheet, ctx)
    with pytest.raises(DatasetError, match="column 'Email' .* is missing"):
        pipeline.validate(Store(engine), with_sheet, ctx)
    pipeline.report(Store(engine), with_sheet, ctx, lambda: outbox_factory(tmp_path / "outbox"), SHEETS,
                    failure="validate failed")
    assert fake_google.sheet_writes == []
    # A failed run's summary copies the data team (the dry run's went to her alone).
    (eml,) = [p for p in (tmp_path / "outbox" / "c1" / "summary").glob("*.eml")
              if email.message_from_bytes(p.read_bytes())["Cc"]]
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Cc"] == "data@example.edu" and msg["To"] == "boss@example.edu"


# --- reruns from the trigger form ----------------------------------------------------------------

def rerun(engine, cohort, tmp_path, run_id, as_of, **ctx_over):
    ctx = RunContext(run_id, as_of, False, tmp_path / "data", **ctx_over)
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    pipeline.extract(Store(engine), cohort, ctx)
    pipeline.validate(Store(engine), cohort, ctx)
    counts = pipeline.decide(Store(engine), cohort, ctx)
    pipeline.send(Store(engine), cohort, ctx, outbox)
    return ctx, counts


def test_a_rerun_limited_to_some_kinds_decides_only_those(engine, cohort, tmp_path):
    _, counts = rerun(engine, cohort, tmp_path, "welcomes-only", local(2026, 12, 5), kinds=("welcome",))
    assert outbox(tmp_path, "welcome") == ["ann@x.org"] and outbox(tmp_path, "cancellation") == []
    assert not any(k.startswith("cancellation_") for k in counts)


def test_a_late_rerun_for_a_past_date_never_sends_a_reminder(engine, cohort, tmp_path):
    # Asked for on 6 Dec, as of 2 Dec: Bob's reminder was due then, but its moment has passed.
    _, counts = rerun(engine, cohort, tmp_path, "late-rerun", local(2026, 12, 2), triggered_at=local(2026, 12, 6, 9))
    assert counts["reminder_moment_passed"] == 1 and outbox(tmp_path, "reminder") == []
    with engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT reason FROM decisions WHERE run_id = 'late-rerun'")).scalar()
    assert "the deadline had passed when this run was asked for (2026-12-06 09:00 AEDT)" in reason
    # The same rerun asked for before the deadline sends it.
    rerun(engine, cohort, tmp_path, "in-time", local(2026, 12, 2), triggered_at=local(2026, 12, 3, 9))
    assert outbox(tmp_path, "reminder") == ["bob@x.org"]


def test_resend_of_one_customers_email_is_recorded_with_its_reason(engine, cohort, tmp_path):
    from onboarding.decisions import Resend

    rerun(engine, cohort, tmp_path, "night-1", local(2026, 12, 2))
    assert outbox(tmp_path, "reminder") == ["bob@x.org"]
    ask = Resend("bob@x.org", "reminder", "Bob deleted it by mistake")
    ctx, counts = rerun(engine, cohort, tmp_path, "resend-1", local(2026, 12, 2, 10), resend=ask)
    assert outbox(tmp_path, "reminder") == ["bob@x.org", "bob@x.org"]
    # A retry of the same run does not send the resend twice.
    pipeline.send(Store(engine), cohort, ctx, lambda: outbox_factory(tmp_path / "outbox"))
    assert len(outbox(tmp_path, "reminder")) == 2
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT email_key, status, requested_reason FROM email_ledger "
                                    "WHERE kind = 'reminder' ORDER BY created_at")).all()
    assert [(r.status, r.requested_reason) for r in rows] == [("sent", None), ("sent", "Bob deleted it by mistake")]
    assert rows[1].email_key == "c1|bob@x.org|reminder|resend|resend-1"
    # The next nightly run neither resends nor re-sends.
    rerun(engine, cohort, tmp_path, "night-2", local(2026, 12, 3))
    assert len(outbox(tmp_path, "reminder")) == 2


@pytest.mark.parametrize("ask,message", [
    (("ann@x.org", "reminder", "she asked"), "no reminder went out to ann@x.org before (ledger: none)"),
    (("zed@x.org", "reminder", "who is this"), "zed@x.org is not a customer of cohort c1"),
])
def test_a_resend_that_makes_no_sense_is_refused_and_sends_nothing(engine, cohort, tmp_path, ask, message):
    from onboarding.decisions import Resend
    from onboarding.errors import ResendRefused

    with pytest.raises(ResendRefused) as err:
        rerun(engine, cohort, tmp_path, "bad-resend", local(2026, 12, 2), resend=Resend(*ask))
    assert message in str(err.value)
    assert outbox(tmp_path, "reminder") == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM runs WHERE run_id = 'bad-resend'")).scalar() == "failed"


@pytest.mark.parametrize("params,message", [
    # An address where the reference goes is refused without being repeated (it reaches the logs).
    ({"resend_request": "bob@x.org"}, "resend_request: holds an address; the trigger form takes none"),
    ({"resend_request": "resend-xyz"}, "resend_request: 'resend-xyz' is not a resend request's reference"),
    # A reference no request has: refused in the run's first task, whatever the cohort.
    ({"cohort": "all", "resend_request": "resend-0123456789abcdef"}, "resend-0123456789abcdef: no such request"),
    ({"resend_request": "resend-0123456789abcdef"}, "resend-0123456789abcdef: no such request"),
    ({"kinds": ["reminder", "postcard"]}, "kinds: unknown email kind(s) ['postcard']"),
    # A course cohort has no stage emails: a run limited to them would decide nothing; one asking for
    # them beside its own kinds is refused too, naming the field and the cohort's kinds.
    ({"kinds": ["stage"]}, "Email kinds: data-eng-2026-12 sends reminders, cancellations and welcomes, not stage emails"),
    ({"kinds": ["reminder", "stage"]}, "Email kinds: data-eng-2026-12 sends reminders, cancellations and welcomes"),
    ({"cohort": "all", "kinds": ["stage"]}, "stage emails are a multi-stage journey's"),
    # Resend one email ticked, no reference: refused at once, saying which field is empty.
    ({"resend": True}, "Resend one email is ticked but Resend reference is empty"),
    ({"as_of": "2026-02-30"}, "As of: '2026-02-30' is neither a date"),
    # The form's former address boxes, sent through the REST API's conf: refused, pointing at the page.
    ({"suppress": "ann@x.org"}, "suppress: the trigger form takes no addresses"),
    ({"erase": "ann@x.org", "erase_reason": "asked by phone"}, "POST /onboarding/api/erasures"),
    ({"resend_customer": "bob@x.org", "resend_kind": "welcome", "resend_reason": "lost it"},
     "POST /onboarding/api/resends"),
])
def test_form_params_that_make_no_sense_fail_the_run_at_once(params, message, state_conn, capsys, caplog):
    from airflow.sdk.exceptions import AirflowFailException

    from onboarding import airflow_tasks

    params = {"cohort": "data-eng-2026-12", **params}
    with pytest.raises(AirflowFailException) as err:
        airflow_tasks.plan(_plan_context(params), "Australia/Sydney", dt.time(6))
    assert message in str(err.value)
    # One line saying why, in the first task's log, and no traceback of ours chained under it.
    assert err.value.__cause__ is None and err.value.__suppress_context__
    out = capsys.readouterr()  # Airflow's logging may have been set up to print, or not yet
    lines = [r.getMessage() for r in caplog.records if "The run was refused" in r.getMessage()] + [
        line for line in (out.out + out.err).splitlines() if re.search(r"\[error\s*\] The run was refused", line)]
    assert lines and all("The run was refused, nothing was sent: " in line and message in line and "@" not in line
                         for line in lines)


def _plan_context(params):
    from types import SimpleNamespace

    return {"params": params, "run_id": "manual__x", "logical_date": local(2026, 12, 2),
            "dag_run": SimpleNamespace(run_after=local(2026, 12, 2))}


@pytest.fixture
def state_conn(tmp_path, monkeypatch):
    """The state database the plan task reads resend requests from (as the Airflow connection)."""
    import json

    from onboarding.store import db as state

    eng = state.make_engine(f"sqlite:///{tmp_path / 'plan-state.db'}")
    state.migrate(eng)
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", json.dumps({"conn_type": "sqlite",
                                                                     "host": str(tmp_path / "plan-state.db")}))
    yield eng
    eng.dispose()


def test_a_resend_reference_names_its_cohort_so_the_form_needs_no_cohort_beside_it(state_conn):
    """The form's "Resend one email" section folds the cohort away: the reference alone picks the
    request's cohort; a different cohort chosen beside it is refused, naming the right one."""
    from airflow.sdk.exceptions import AirflowFailException

    from onboarding import airflow_tasks
    from onboarding.store import Store

    ref = Store(state_conn).resends.add("ux-2026-12", "mia@x.org", "welcome", "she deleted it", "instructor")
    (item,) = airflow_tasks.plan(_plan_context({"cohort": "all", "resend_request": ref}), "Australia/Sydney",
                                 dt.time(6))
    assert item["cohort_id"] == "ux-2026-12" and item["ctx"]["resend_request"] == ref
    with pytest.raises(AirflowFailException) as err:
        airflow_tasks.plan(_plan_context({"cohort": "data-eng-2026-12", "resend_request": ref}),
                           "Australia/Sydney", dt.time(6))
    assert f"{ref} was asked for in cohort ux-2026-12, not data-eng-2026-12: choose ux-2026-12" in str(err.value)


# --- how customer emails read ---------------------------------------------------------------------

def test_customers_are_greeted_by_first_name_in_a_mobile_ready_email(engine, tmp_path):
    import dataclasses

    from onboarding.cohorts import SourceConfig

    (tmp_path / "signups.csv").write_text(
        "Email,First,Last,When\n"
        "ann@x.org,Ann,Lee,2026-11-01T10:00\n"
        "bob@x.org,Bob,,2026-11-01T11:00\n"
        "eve@x.org,=?utf-8?b?RXZl?=,Evil,2026-11-01T12:00\n"
        "nil@x.org,,,2026-11-01T12:00\n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n")
    cohort = dataclasses.replace(csv_cohort(tmp_path), signups=SourceConfig(
        "signups", "csv", {"email": "Email", "first_name": "First", "last_name": "Last", "signed_up_at": "When"},
        {"path": str(tmp_path / "signups.csv")}))
    ctx = run(engine, cohort, tmp_path, local(2026, 12, 2), "night-1")
    mails = {p.name.split(".onb-")[0]: email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (tmp_path / "outbox" / "c1" / "reminder").glob("*.eml")}
    assert sorted(mails) == ["ann@x.org", "bob@x.org"]
    ann = mails["ann@x.org"]
    assert ann["To"].addresses[0].display_name == "Ann Lee"  # the whole name in the header
    text, html = ann.get_body(("plain",)).get_content(), ann.get_body(("html",)).get_content()
    assert text.startswith("Hi Ann,") and "<p>Hi Ann,</p>" in html
    assert mails["bob@x.org"].get_body(("plain",)).get_content().startswith("Hi Bob,")
    # Every customer email reads well on a phone and in an inbox list: a title, a viewport, a preheader.
    assert f"<title>{ann['Subject']}</title>" in html and 'name="viewport"' in html
    assert "Please finish your onboarding by" in html.split("<p>Hi Ann,")[0]
    # A first name that hides an encoded word, and a row with no name at all, are quarantined.
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert 'row 4, column "First": name contains an encoded word' in summary
    assert 'row 5, column "First": missing name' in summary


def test_a_last_name_needs_a_first_name(tmp_path):
    from onboarding.cohorts import _source
    from onboarding.errors import ConfigError

    with pytest.raises(ConfigError, match="last_name is mapped without first_name"):
        _source({"type": "csv", "path": "s.csv", "columns": {"email": "E", "name": "N", "last_name": "L"}},
                "signups", tmp_path, "cohorts[0].sources.signups", (tmp_path,))


def test_the_night_leaves_the_pages_figures_computed_for_her_first_look(engine, cohort, tmp_path):
    """The report computes the Onboarding page's figures for its run, so her first look after the
    night reads them (at 100,000 customers computing them took seconds) instead of recomputing."""
    from onboarding.reporting.page import PageReads

    run(engine, cohort, tmp_path, local(2026, 12, 2), "night-1")
    store = Store(engine)
    kept = store.analytics.kept_figures("c1")
    assert kept is not None
    figures = PageReads(store, None).figures("c1")
    assert store.analytics.kept_figures("c1") == kept  # read, not made again: still the night's row
    assert figures == json.loads(kept["figures"]) and figures["funnel"]["reminded"] == 1  # Bob
