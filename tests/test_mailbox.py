"""Bounces and unsubscribe mails read back from the sender's mailbox (through the Gmail API against
the fake Google server, and from the local outbox's inbox folder): a hard bounce suppresses the
address before the next night decides, a soft bounce is sent again once, an unsubscribe mail
stops marketing but not a cancellation, each message is acted on once, and forged or
unreadable messages change nothing."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st

from helpers import csv_cohort, local, world_clock
from mailbox_messages import dsn, unsubscribe_mail
from onboarding import pipeline
from onboarding.delivery import feedback
from onboarding.resources import Resources
from onboarding.run import RunContext
from onboarding.store import Store

UNSUB = "team+unsubscribe@example.edu"
ORIGINAL = (b"From: Team <team@example.edu>\r\nTo: Ann <ann@x.org>\r\nSubject: Reminder\r\n"
            b"X-Onboarding-Ref: onb-0123456789abcdef0123\r\nContent-Type: text/plain\r\n\r\n"
            b"Your reference: onb-0123456789abcdef0123\r\n")


# --- reading one message ---------------------------------------------------------------------------
@pytest.mark.parametrize("status, action, headers_only, kind, bounce", [
    ("5.1.1", "failed", False, "bounce", "hard"),  # no such account
    ("5.2.1", "failed", True, "bounce", "hard"),  # mailbox disabled (headers-only report)
    ("4.2.2", "failed", False, "bounce", "soft"),  # mailbox full
    ("5.7.1", "failed", False, "bounce", "soft"),  # a policy refusal: the address exists
    ("4.4.7", "delayed", False, "ignored", None),  # still trying: not a failure
])
def test_a_delivery_status_report_is_read_as_gmail_writes_it(status, action, headers_only, kind, bounce):
    fb = feedback.read(dsn(ORIGINAL, "ann@x.org", status, action, headers_only=headers_only), {UNSUB})
    assert (fb.kind, fb.bounce) == (kind, bounce)
    if kind == "bounce":
        assert fb.address == "ann@x.org" and fb.refs[0] == "onb-0123456789abcdef0123"
        assert fb.status_code == status and fb.detail.startswith(status)


def test_what_is_done_about_each_message():
    entry = {"email_key": "c1|ann@x.org|reminder", "cohort_id": "c1", "recipient": "ann@x.org"}
    hard = feedback.read(dsn(ORIGINAL, "ann@x.org", "5.1.1"), {UNSUB})
    assert feedback.effect(hard, entry).action == "suppress"
    assert feedback.effect(feedback.read(dsn(ORIGINAL, "ann@x.org", "4.2.2"), {UNSUB}), entry).action == "retry"
    # A forged report: its failed recipient is not who the named email went to.
    forged = feedback.read(dsn(ORIGINAL, "victim@y.org", "5.1.1"), {UNSUB})
    assert feedback.effect(forged, entry).kind == "ignored"
    assert feedback.effect(hard, None).detail == "a bounce for no email in the ledger"
    unsub = feedback.read(unsubscribe_mail("Ann <ANN@x.org>", UNSUB, "onb-0123456789abcdef0123"), {UNSUB})
    assert (unsub.kind, unsub.address) == ("unsubscribe", "ann@x.org")
    assert feedback.effect(unsub, entry).action == "unsubscribe"
    other = feedback.read(unsubscribe_mail("mallory@y.org", UNSUB, "onb-0123456789abcdef0123"), {UNSUB})
    assert feedback.effect(other, entry).kind == "ignored"  # cannot unsubscribe someone else
    stranger = feedback.read(unsubscribe_mail("stranger@y.org", UNSUB), {UNSUB})
    assert feedback.effect(stranger, None, known_recipient=False).kind == "ignored"
    assert feedback.effect(stranger, None, known_recipient=True).action == "unsubscribe"
    assert feedback.read(b"Subject: hello\r\n\r\nnot for us", {UNSUB}).kind == "ignored"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_at_all_are_read_without_raising(raw):
    assert feedback.read(raw, {UNSUB}).kind in ("bounce", "unsubscribe", "ignored")


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True))
def test_only_a_bad_address_is_a_hard_bounce(code):
    assert feedback.classify(code) == ("hard" if code.startswith("5.1.") or code == "5.2.1" else "soft")


# --- through the pipeline, with the Gmail API ---------------------------------------------------
@pytest.fixture
def cohort(tmp_path):
    (tmp_path / "signups.csv").write_text("Email,Name,When\n" + "".join(
        f"{n}@x.org,{n.title()},2026-11-01T10:00\n" for n in ("ann", "bob", "cat", "dan")))
    (tmp_path / "completions.csv").write_text("user_email,completed_at\ncat@x.org,2026-11-20T10:00:00Z\n")
    # The welcome is a marketing email here, so an unsubscribe stops it and not a cancellation.
    return dataclasses.replace(csv_cohort(tmp_path), email_classes={
        "reminder": "transactional", "cancellation": "transactional", "welcome": "marketing"})


def _night(engine, cohort, tmp_path, fake, as_of, run_id):
    """One night as the DAG runs it: the mailbox first, then the cohort's stages, through Gmail."""
    res = Resources(connections={"onboarding_email": {"conn_type": "generic", "extra": fake.gmail_extra()}})
    store = Store(engine)
    ctx = RunContext(run_id, as_of, False, tmp_path / "data")
    read = pipeline.read_mailbox(store, [cohort], ctx, res.email, as_of.astimezone(dt.timezone.utc))
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)
    pipeline.send(store, cohort, ctx, res.email("onboarding_email"))
    pipeline.report(store, cohort, ctx, res.email("onboarding_email"))
    return ctx, read


def _sent(fake, to):
    return [m for m in fake.sent.values() if to in m["to"] and m["user"] == "me" and "Test Cohort" in m["subject"]
            and "summary" not in m["subject"].lower()]


def _ledger(engine):
    with engine.connect() as conn:
        return {(r.recipient, r.kind, r.email_key.endswith("|retry")): (r.status, r.bounce) for r in conn.execute(
            sa.text("SELECT recipient, kind, email_key, status, bounce FROM email_ledger"))}


def test_bounces_and_unsubscribes_flow_back_through_gmail(engine, cohort, tmp_path, fake_google):
    fake = fake_google
    # Night 1 (reminder window): reminders to ann, bob, dan.
    _night(engine, cohort, tmp_path, fake, local(2026, 12, 2), "night-1")
    raw = {m["to"].split("<")[1].rstrip(">"): m["raw"] for m in fake.sent.values() if "Reminder" in m["subject"]
           or "reminder" in m["subject"].lower()}
    assert sorted(raw) == ["ann@x.org", "bob@x.org", "dan@x.org"]
    # Overnight: ann's address does not exist (hard), bob's mailbox is full (soft), a forged
    # report names dan's email for someone else, and a delay notice for dan changes nothing.
    fake.deliver(dsn(raw["ann@x.org"], "ann@x.org", "5.1.1"))
    fake.deliver(dsn(raw["bob@x.org"], "bob@x.org", "4.2.2"))
    fake.deliver(dsn(raw["dan@x.org"], "victim@y.org", "5.1.1"))
    fake.deliver(dsn(raw["dan@x.org"], "dan@x.org", "4.4.7", action="delayed"))
    fake.deliver(b"From: friend@y.org\r\nTo: team@example.edu\r\nSubject: hi\r\n\r\nhello")  # not for us

    # Night 2 (still in the window): the mailbox is read before the cohort decides.
    ctx, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3), "night-2")
    # The forged report and the delay notice are recorded and ignored; the stray mail is not even
    # found (the search asks for reports and unsubscribe mails only).
    assert read == {"bounce_hard": 1, "bounce_soft": 1, "ignored": 2}
    ledger = _ledger(engine)
    assert ledger[("ann@x.org", "reminder", False)] == ("bounced", "hard")
    assert ledger[("bob@x.org", "reminder", False)] == ("bounced", "soft")
    assert ledger[("bob@x.org", "reminder", True)] == ("sent", None)  # the soft bounce, sent again once
    assert ledger[("dan@x.org", "reminder", False)] == ("sent", None)
    store = Store(engine)
    assert {(e.address, e.reason) for e in store.suppressions.for_cohort("c1")} == {("ann@x.org", "hard_bounce")}
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "2 email(s) came back undelivered (1 for an address that does not exist" in " ".join(summary.split())
    assert "Ann <ann@x.org>: bounced (hard), address suppressed: 5.1.1 550-5.1.1 The email account" in summary
    assert "Bob <bob@x.org>: bounced (soft), sent again once: 4.2.2" in summary
    with engine.connect() as conn:
        kinds = conn.execute(sa.text("SELECT kind, COUNT(*) FROM mailbox_messages GROUP BY kind")).all()
        stored = " ".join(str(v) for r in conn.execute(sa.text(
            "SELECT address, detail FROM mailbox_messages WHERE kind = 'ignored'")) for v in r)
    assert dict(kinds) == {"bounce": 2, "ignored": 2}
    assert "victim@y.org" not in stored and "friend@y.org" not in stored  # nothing kept of a stray mail

    # The retry bounces too; dan unsubscribes (the welcome is marketing here).
    retry = next(m["raw"] for m in fake.sent.values() if "bob@x.org" in m["to"] and m is not None
                 and m["raw"] != raw["bob@x.org"] and b"eminder" in m["raw"])
    fake.deliver(dsn(retry, "bob@x.org", "4.2.2"))
    ref = next(line.split()[1] for line in raw["dan@x.org"].decode().splitlines() if line.startswith("X-Onboarding-Ref"))
    fake.deliver(unsubscribe_mail("Dan <dan@x.org>", UNSUB, ref))
    # Night 3 repeats the read over the same messages (the window overlaps): nothing acted on twice.
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 20), "night-3")
    assert read == {"bounce_soft": 1, "unsubscribe": 1}
    assert _ledger(engine)[("bob@x.org", "reminder", True)] == ("bounced", "soft")
    # Night 4, after the deadline: ann (hard bounce) gets no cancellation, bob (his retry bounced
    # too) gets his, dan (unsubscribed: marketing only) gets his cancellation; cat completed, but
    # her (marketing) welcome needs a recorded consent, which this export does not carry.
    with world_clock("2026-12-05T07:00:00+11:00"):
        ctx, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 5), "night-4")
    assert read == {}
    ledger = _ledger(engine)
    assert ("ann@x.org", "cancellation", False) not in ledger
    assert ledger[("bob@x.org", "cancellation", False)] == ("sent", None)
    assert ledger[("dan@x.org", "cancellation", False)] == ("sent", None)
    assert ("cat@x.org", "welcome", False) not in ledger
    assert ("bob@x.org", "reminder", True) in ledger and len([k for k in ledger if k[0] == "bob@x.org"]) == 3
    with engine.connect() as conn:
        outcome = conn.execute(sa.text("SELECT outcome, reason FROM decisions WHERE run_id = 'night-4' "
                                       "AND email = 'ann@x.org'")).one()
        cat = conn.execute(sa.text("SELECT outcome FROM decisions WHERE run_id = 'night-4' AND email = 'cat@x.org'"))
    assert outcome.outcome == "suppressed" and "hard bounce" in outcome.reason
    assert cat.scalar() == "no_consent"
    assert {(e.address, e.reason) for e in Store(engine).suppressions.for_cohort("c1")} == {
        ("ann@x.org", "hard_bounce"), ("dan@x.org", "unsubscribed")}


def test_an_unsubscribe_never_weakens_a_do_not_contact(engine, cohort, tmp_path, fake_google):
    store = Store(engine)
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    store.suppressions.add("ann@x.org", "manual", "command line")
    fake_google.deliver(unsubscribe_mail("ann@x.org", UNSUB))  # no reference: she was emailed, so it counts
    fake_google.deliver(unsubscribe_mail("nobody@y.org", UNSUB))  # never emailed: ignored
    _, read = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")
    assert read == {"unsubscribe": 1, "ignored": 1}
    assert {(e.address, e.reason) for e in store.suppressions.for_cohort("c1")} == {("ann@x.org", "manual")}


def test_the_local_outbox_has_an_inbox_folder_too(engine, cohort, tmp_path):
    from helpers import run_stages
    from onboarding.delivery.senders import outbox_factory

    run_stages(engine, cohort, tmp_path, local(2026, 12, 2))
    sent = next((tmp_path / "outbox" / "c1" / "reminder").glob("ann@x.org.*.eml")).read_bytes()
    inbox = tmp_path / "outbox" / ".inbox"
    inbox.mkdir()
    (inbox / "bounce-1.eml").write_bytes(dsn(sent, "ann@x.org", "5.1.1"))
    store = Store(engine)
    ctx = RunContext("night-2", local(2026, 12, 3), False, tmp_path / "data")
    email = lambda _conn: (lambda: outbox_factory(tmp_path / "outbox"))  # noqa: E731
    now = dt.datetime.now(dt.timezone.utc)
    assert pipeline.read_mailbox(store, [cohort], ctx, email, now) == {"bounce_hard": 1}
    assert pipeline.read_mailbox(store, [cohort], ctx, email, now) == {}  # read again: nothing new
    assert _ledger(engine)[("ann@x.org", "reminder", False)] == ("bounced", "hard")


def test_a_hard_bounce_suppresses_the_next_nights_reminder(engine, cohort, tmp_path, fake_google):
    """Another course's email to ann bounced hard last night: tonight's reminder in this cohort is
    not sent to her (the entry is for every cohort), and the others get theirs."""
    earlier = dataclasses.replace(cohort, id="c0")
    with world_clock("2026-11-20T09:00:00+11:00"):
        _night(engine, earlier, tmp_path, fake_google, local(2026, 11, 20), "night-0")  # nothing due yet
    first = dataclasses.replace(earlier, deadline=dt.date(2026, 11, 21))
    with world_clock("2026-11-22T09:00:00+11:00"):
        _night(engine, first, tmp_path, fake_google, local(2026, 11, 22), "night-0b")  # c0's cancellations
    (sent,) = [m["raw"] for m in fake_google.sent.values() if "ann@x.org" in m["to"]]
    fake_google.deliver(dsn(sent, "ann@x.org", "5.1.1"))
    ctx, read = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    assert read == {"bounce_hard": 1}
    reminded = sorted(m["to"].split("<")[1].rstrip(">") for m in fake_google.sent.values()
                      if "Test Cohort" in m["subject"] and m["subject"].startswith("Reminder"))
    assert reminded == ["bob@x.org", "dan@x.org"]
    with engine.connect() as conn:
        decided = conn.execute(sa.text("SELECT outcome FROM decisions WHERE run_id = 'night-1' AND cohort_id = 'c1' "
                                       "AND email = 'ann@x.org'")).scalar()
    assert decided == "suppressed"
    assert "Ann <ann@x.org>: not sent: the address is suppressed (hard bounce" in (ctx.folder("c1") / "summary.txt").read_text()


def test_a_mailbox_that_cannot_be_read_stops_no_cohort(engine, cohort, tmp_path, fake_google):
    """Gmail down for the read (or a cohort whose connection is missing): the night goes on; the
    messages are read the next night, where the last read ended."""
    fake_google.script("messages.list", "503")
    other = dataclasses.replace(cohort, id="c2", email_connection="no_such_connection")
    res = Resources(connections={"onboarding_email": {"conn_type": "generic", "extra": fake_google.gmail_extra()}},
                    lookup=lambda conn_id: (_ for _ in ()).throw(LookupError(conn_id)))
    ctx = RunContext("night-1", local(2026, 12, 2), False, tmp_path / "data")
    now = dt.datetime.now(dt.timezone.utc)
    fake_google.deliver(unsubscribe_mail("ann@x.org", UNSUB))
    assert pipeline.read_mailbox(Store(engine), [cohort, other], ctx, res.email, now) == {"accounts_unread": 2}
    Store(engine).ledger.plan([{"email_key": "c1|ann@x.org|welcome", "ref": "onb-00000000000000000001",
                                "cohort_id": "c1", "recipient": "ann@x.org", "recipient_name": "Ann",
                                "kind": "welcome"}], "night-0")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE email_ledger SET status = 'sent'"))
    assert pipeline.read_mailbox(Store(engine), [cohort], ctx, res.email, now) == {"unsubscribe": 1}
