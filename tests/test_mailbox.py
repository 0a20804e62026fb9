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
    assert feedback.effect(hard, None).detail == feedback.NOT_ISSUED
    unsub = feedback.read(unsubscribe_mail("Ann <ANN@x.org>", UNSUB, "onb-0123456789abcdef0123"), {UNSUB})
    assert (unsub.kind, unsub.address) == ("unsubscribe", "ann@x.org")
    assert feedback.effect(unsub, entry).action == "unsubscribe"
    other = feedback.read(unsubscribe_mail("mallory@y.org", UNSUB, "onb-0123456789abcdef0123"), {UNSUB})
    assert feedback.effect(other, entry).detail == feedback.UNSUB_OTHER  # cannot unsubscribe someone else
    # Without a reference a From is all there is, and anyone can write one: nobody is unsubscribed.
    stranger = feedback.read(unsubscribe_mail("ann@x.org", UNSUB), {UNSUB})
    assert feedback.effect(stranger, None).detail == feedback.UNSUB_NO_REF
    assert feedback.read(b"Subject: hello\r\n\r\nnot for us", {UNSUB}).detail == feedback.JUNK


def test_a_bounce_counts_only_from_a_mail_system_and_only_by_the_attached_original():
    """A report from mailer-daemon@attacker.example, or one whose reference is only in the text the
    report's author wrote, names no email; the sending domain's own postmaster is a mail system."""
    systems = feedback.mail_system_senders(["example.edu"])
    assert systems == {"mailer-daemon@googlemail.com", "mailer-daemon@example.edu", "postmaster@example.edu"}
    forged = feedback.read(dsn(ORIGINAL, "ann@x.org", daemon="mailer-daemon@attacker.example"), {UNSUB}, systems)
    assert (forged.kind, forged.detail) == ("ignored", feedback.NOT_A_MAIL_SYSTEM)
    own = feedback.read(dsn(ORIGINAL, "ann@x.org", daemon="postmaster@example.edu"), {UNSUB}, systems)
    assert own.kind == "bounce" and own.refs == ("onb-0123456789abcdef0123",)
    bare = ORIGINAL.replace(b"X-Onboarding-Ref: onb-0123456789abcdef0123\r\n", b"").replace(
        b"Your reference: onb-0123456789abcdef0123", b"Hello")
    text_only = feedback.read(dsn(bare, "ann@x.org", note="Ref: onb-0123456789abcdef0123"), {UNSUB}, systems)
    assert text_only.refs == () and feedback.effect(text_only, None).detail == feedback.NO_ORIGINAL_REF
    # By headers alone: junk and a forged report are never fetched.
    assert feedback.screen({"From": "Mail Delivery Subsystem <mailer-daemon@attacker.example>",
                            "Content-Type": "multipart/report"}, {UNSUB}, systems) == feedback.NOT_A_MAIL_SYSTEM
    assert feedback.screen({"From": "promo@shop.example", "To": "team@example.edu"}, {UNSUB}, systems) == feedback.JUNK
    assert feedback.screen({"From": "x@y.org", "To": UNSUB}, {UNSUB}, systems) is None
    assert feedback.screen({"From": "mailer-daemon@googlemail.com"}, {UNSUB}, systems, size=11 << 20) == feedback.TOO_LARGE


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
    # The forged report, the delay notice and the stray mail are recorded and ignored, counted by why
    # (night 1 stored where the mailbox was; tonight reads everything added since).
    assert read == {"bounce_hard": 1, "bounce_soft": 1, "ignored": 3, "ignored_because": {
        feedback.WRONG_RECIPIENT: 1, "a delivery-status report with no failure (action: delayed)": 1, feedback.JUNK: 1}}
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
    assert dict(kinds) == {"bounce": 2, "ignored": 3}
    assert "victim@y.org" not in stored and "friend@y.org" not in stored  # nothing kept of a stray mail

    # The retry bounces too; dan unsubscribes (the welcome is marketing here).
    retry = next(m["raw"] for m in fake.sent.values() if "bob@x.org" in m["to"] and m is not None
                 and m["raw"] != raw["bob@x.org"] and b"eminder" in m["raw"])
    fake.deliver(dsn(retry, "bob@x.org", "4.2.2"))
    ref = next(line.split()[1] for line in raw["dan@x.org"].decode().splitlines() if line.startswith("X-Onboarding-Ref"))
    fake.deliver(unsubscribe_mail("Dan <dan@x.org>", UNSUB, ref))
    # Night 3 reads only what was added since night 2: nothing acted on twice.
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
    (sent,) = [m["raw"] for m in fake_google.sent.values() if "ann@x.org" in m["to"]]
    ref = next(line.split()[1] for line in sent.decode().splitlines() if line.startswith("X-Onboarding-Ref"))
    fake_google.deliver(unsubscribe_mail("ann@x.org", UNSUB, ref))
    fake_google.deliver(unsubscribe_mail("nobody@y.org", UNSUB))  # no reference: ignored
    _, read = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")
    assert read == {"unsubscribe": 1, "ignored": 1, "ignored_because": {feedback.UNSUB_NO_REF: 1}}
    # Her unsubscribe is for this cohort; the do-not-contact for every cohort stays as it was.
    assert {(e.address, e.reason, e.cohort_id) for e in store.suppressions.for_cohort("c1")} == {
        ("ann@x.org", "manual", "*"), ("ann@x.org", "unsubscribed", "c1")}
    assert {(e.address, e.reason) for e in store.suppressions.for_cohort("c9")} == {("ann@x.org", "manual")}


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
    fake_google.deliver(unsubscribe_mail("ann@x.org", UNSUB, "onb-00000000000000000001"))
    assert pipeline.read_mailbox(Store(engine), [cohort, other], ctx, res.email, now) == {"accounts_unread": 2}
    Store(engine).ledger.plan([{"email_key": "c1|ann@x.org|welcome", "ref": "onb-00000000000000000001",
                                "cohort_id": "c1", "recipient": "ann@x.org", "recipient_name": "Ann",
                                "kind": "welcome"}], "night-0")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE email_ledger SET status = 'sent'"))
    assert pipeline.read_mailbox(Store(engine), [cohort], ctx, res.email, now) == {"unsubscribe": 1}


# --- a flood, forged bounces, spoofed unsubscribes (issue 21) ----------------------------------------
def _ref(raw: bytes) -> str:
    return next(line.split()[1] for line in raw.decode().splitlines() if line.startswith("X-Onboarding-Ref"))


def _junk(n: int) -> list[bytes]:
    return [(f"From: Deals {i} <promo{i % 37}@shop.example>\r\nTo: team@example.edu\r\nSubject: offer {i}\r\n"
             f"Message-ID: <j{i}@shop.example>\r\n\r\nbuy now\r\n").encode() for i in range(n)]


def _cursor(engine) -> tuple[str, str]:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT history_id, how FROM mailbox_cursors")).one())


def test_a_flood_of_junk_cannot_hide_a_real_bounce(engine, cohort, tmp_path, fake_google):
    """A real hard bounce, then 2,100 junk mails newer than it (Gmail lists newest first): the bounce
    is acted on, the junk counted and never fetched whole; the next night reads only what is new;
    when Gmail has dropped the history, a listing still finds a bounce."""
    fake = fake_google
    _night(engine, cohort, tmp_path, fake, local(2026, 12, 2), "night-1")
    assert _cursor(engine)[1] == "listing"  # the first read lists the look-back window
    raw = {m["to"].split("<")[1].rstrip(">"): m["raw"] for m in fake.sent.values() if "Reminder" in m["subject"]}
    fake.deliver(dsn(raw["ann@x.org"], "ann@x.org", "5.1.1"))
    for junk in _junk(2100):
        fake.deliver(junk)
    delivered = fake.history_id
    gets = fake.calls["messages.get"]
    ctx, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3), "night-2")
    assert read == {"bounce_hard": 1, "ignored": 2100, "ignored_because": {feedback.JUNK: 2100}}
    assert fake.calls["history.list"] == 5  # 2,101 records, 500 a page, to the end
    assert fake.calls["messages.get"] - gets == 2101 + 1  # headers of each; only the bounce whole
    assert _ledger(engine)[("ann@x.org", "reminder", False)] == ("bounced", "hard")
    assert {(e.address, e.reason) for e in Store(engine).suppressions.for_cohort("c1")} == {("ann@x.org", "hard_bounce")}
    summary = " ".join((ctx.folder("c1") / "summary.txt").read_text().split())
    assert f"The mailbox read also found, and did not act on: 2100 {feedback.JUNK}" in summary
    first = _cursor(engine)
    assert first[1] == "history" and int(first[0]) >= delivered

    # The next night reads what arrived since, and nothing else.
    fake.deliver(_junk(1)[0])
    gets = fake.calls["messages.get"]
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 12), "night-3")
    assert read == {"ignored": 1, "ignored_because": {feedback.JUNK: 1}} and fake.calls["messages.get"] - gets == 1

    # Gmail has forgotten the history (404): a listing of the look-back window, by the real senders'
    # search, finds tonight's bounce (and none of the junk); the new id is stored and read from next.
    fake.expire_history()
    fake.deliver(dsn(raw["dan@x.org"], "dan@x.org", "5.1.1"))
    fake.deliver(_junk(1)[0])
    delivered = fake.history_id
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 18), "night-4")
    assert read == {"bounce_hard": 1}
    assert _ledger(engine)[("dan@x.org", "reminder", False)] == ("bounced", "hard")
    cursor = _cursor(engine)
    assert int(cursor[0]) >= delivered and cursor[1] == "listing (history expired)"
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 20), "night-5")
    assert read == {} and _cursor(engine)[1] == "history"
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT kind, COUNT(*) FROM mailbox_messages GROUP BY kind")).all())
    assert counts == {"bounce": 2, "ignored": 2101}  # each message recorded once


def test_forged_bounces_suppress_nobody(engine, cohort, tmp_path, fake_google):
    """Forged reports: (a) from mailer-daemon@attacker.example with the old unkeyed sha256 reference
    in a well-formed attached original; (b) the real reference of ann's email in the report's own
    text only (from the attacker, and from Gmail's address); (c) a genuine-looking report for ann
    carrying the reference of dan's email. None acts; each is recorded ignored with why; the
    genuine report after them still works."""
    import hashlib

    fake = fake_google
    _night(engine, cohort, tmp_path, fake, local(2026, 12, 2), "night-1")
    raw = {m["to"].split("<")[1].rstrip(">"): m["raw"] for m in fake.sent.values() if "Reminder" in m["subject"]}
    before = _ledger(engine)
    old_style = "onb-" + hashlib.sha256(b"c1|ann@x.org|reminder").hexdigest()[:20]
    crafted = raw["ann@x.org"].replace(_ref(raw["ann@x.org"]).encode(), old_style.encode())
    fake.deliver(dsn(crafted, "ann@x.org", daemon="mailer-daemon@attacker.example"))  # (a)
    bare = b"From: Team <team@example.edu>\r\nTo: ann@x.org\r\nSubject: Reminder\r\n\r\nHello\r\n"
    note = f"Original reference: {_ref(raw['ann@x.org'])}"
    fake.deliver(dsn(bare, "ann@x.org", daemon="mailer-daemon@attacker.example", note=note))  # (b)
    fake.deliver(dsn(bare, "ann@x.org", note=note))  # (b), from Gmail's own address
    fake.deliver(dsn(raw["dan@x.org"], "ann@x.org", "5.1.1"))  # (c)
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3), "night-2")
    assert read == {"ignored": 4, "ignored_because": {
        feedback.NOT_A_MAIL_SYSTEM: 2, feedback.NO_ORIGINAL_REF: 1, feedback.WRONG_RECIPIENT: 1}}
    assert Store(engine).suppressions.all() == []
    after = _ledger(engine)
    assert {k: v for k, v in after.items() if k in before} == before and not any(v[1] for v in after.values())
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, address, ref, action, detail FROM mailbox_messages")).all()
    assert sorted(r.detail for r in rows) == sorted([feedback.NOT_A_MAIL_SYSTEM] * 2 + [
        feedback.NO_ORIGINAL_REF, feedback.WRONG_RECIPIENT])
    assert {(r.kind, r.address, r.ref, r.action) for r in rows} == {("ignored", None, None, "none")}

    fake.deliver(dsn(raw["ann@x.org"], "ann@x.org", "5.1.1"))  # the genuine one
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 12), "night-3")
    assert read == {"bounce_hard": 1}
    assert {(e.address, e.reason) for e in Store(engine).suppressions.for_cohort("c1")} == {("ann@x.org", "hard_bounce")}


def test_a_spoofed_unsubscribe_unsubscribes_nobody(engine, cohort, tmp_path, fake_google):
    """To the +unsubscribe address: a From with no reference unsubscribes nobody (counted, for the
    instructor, in the summary's 'What needs you'); a reference of someone else's email, or one
    never issued, neither; ann's own reference from ann stops that cohort's marketing only."""
    fake = fake_google
    _night(engine, cohort, tmp_path, fake, local(2026, 12, 2), "night-1")
    (ann,) = [m["raw"] for m in fake.sent.values() if "ann@x.org" in m["to"]]
    fake.deliver(unsubscribe_mail("Ann <ann@x.org>", UNSUB))
    fake.deliver(unsubscribe_mail("mallory@y.org", UNSUB, _ref(ann)))
    fake.deliver(unsubscribe_mail("ann@x.org", UNSUB, "onb-" + "0" * 20))
    ctx, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3), "night-2")
    assert read == {"ignored": 3, "ignored_because": {
        feedback.UNSUB_NO_REF: 1, feedback.UNSUB_OTHER: 1, feedback.UNSUB_NOT_ISSUED: 1}}
    assert Store(engine).suppressions.all() == []
    summary = " ".join((ctx.folder("c1") / "summary.txt").read_text().split())
    assert "1 unsubscribe mail(s) carried no reference, so they unsubscribed nobody" in summary
    assert f"1 {feedback.UNSUB_NO_REF}" in summary

    fake.deliver(unsubscribe_mail("Ann <ann@x.org>", UNSUB, _ref(ann)))
    _, read = _night(engine, cohort, tmp_path, fake, local(2026, 12, 3, 12), "night-3")
    assert read == {"unsubscribe": 1}
    assert [(e["address"], e["reason"], e["cohort_id"]) for e in Store(engine).suppressions.all()] == [
        ("ann@x.org", "unsubscribed", "c1")]


# --- the same report again (an attacker's pass: mail systems resend reports, anyone holding one can replay it) ---
def _reminders(fake):
    return {m["to"].split("<")[1].rstrip(">"): m["raw"] for m in fake.sent.values()
            if "reminder" in m["subject"].lower()}


def test_a_replayed_bounce_is_one_bounce(engine, cohort, tmp_path, fake_google):
    """Six copies of a soft and of a hard bounce: two emails came back, and the summary says two."""
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    raw = _reminders(fake_google)
    for _ in range(6):
        fake_google.deliver(dsn(raw["bob@x.org"], "bob@x.org", "4.2.2"))
        fake_google.deliver(dsn(raw["ann@x.org"], "ann@x.org", "5.1.1"))
    ctx, read = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")
    assert (read["bounce_soft"], read["bounce_hard"], read["ignored"]) == (1, 1, 10)
    summary = " ".join((ctx.folder("c1") / "summary.txt").read_text().split())
    assert " 2 email(s) came back undelivered" in summary, summary[:400]
    assert summary.count("Bob <bob@x.org>: bounced (soft)") == 1
    assert _ledger(engine)[("ann@x.org", "reminder", False)] == ("bounced", "hard")
    assert _ledger(engine)[("bob@x.org", "reminder", True)][0] == "sent"  # his one retry


def test_a_replayed_soft_bounce_after_the_retry_promises_no_second_retry(engine, cohort, tmp_path, fake_google):
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    raw = _reminders(fake_google)
    fake_google.deliver(dsn(raw["bob@x.org"], "bob@x.org", "4.2.2"))
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")  # his retry goes
    fake_google.deliver(dsn(raw["bob@x.org"], "bob@x.org", "4.2.2"))  # the same report again
    ctx, _ = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3, 20), "night-3")
    assert "sent again once" not in (ctx.folder("c1") / "summary.txt").read_text()
    assert sum(1 for (to, kind, _), _v in _ledger(engine).items() if to == "bob@x.org" and kind == "reminder") == 2


def test_a_soft_report_after_a_hard_bounce_keeps_it_hard_and_a_hard_one_after_a_soft_makes_it_hard(
        engine, cohort, tmp_path, fake_google):
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    raw = _reminders(fake_google)
    fake_google.deliver(dsn(raw["ann@x.org"], "ann@x.org", "5.1.1"))
    fake_google.deliver(dsn(raw["bob@x.org"], "bob@x.org", "4.2.2"))
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")
    assert Store(engine).analytics.hard_bounces("c1") == 1
    fake_google.deliver(dsn(raw["ann@x.org"], "ann@x.org", "4.2.2"))  # soft after hard: stays hard
    fake_google.deliver(dsn(raw["bob@x.org"], "bob@x.org", "5.1.1"))  # hard after soft: the address is gone
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3, 20), "night-3")
    ledger = _ledger(engine)
    assert ledger[("ann@x.org", "reminder", False)] == ("bounced", "hard")
    assert ledger[("bob@x.org", "reminder", False)] == ("bounced", "hard")
    assert Store(engine).analytics.hard_bounces("c1") == 2
    for who in ("ann@x.org", "bob@x.org"):
        assert "hard_bounce" in [e.reason for e in Store(engine).suppressions.of_address(who)]
    # And the ledger itself keeps a hard bounce hard, whoever marks it again.
    with engine.connect() as conn:
        key = conn.execute(sa.text("SELECT email_key FROM email_ledger WHERE recipient = 'ann@x.org' "
                                   "AND kind = 'reminder'")).scalar_one()
    Store(engine).ledger.bounced(key, "night-4", "soft", "4.2.2 again")
    assert _ledger(engine)[("ann@x.org", "reminder", False)] == ("bounced", "hard")


def test_an_unsubscribe_whose_subject_kept_its_percent_encoding_still_counts():
    """Some mail programs leave the mailto subject's %20 undecoded: "unsubscribe%20onb-...". """
    entry = {"email_key": "c1|ann@x.org|welcome", "cohort_id": "c1", "recipient": "ann@x.org"}
    fb = feedback.read(unsubscribe_mail("ann@x.org", UNSUB, subject="unsubscribe%20onb-0123456789abcdef0123"), {UNSUB})
    assert fb.refs == ("onb-0123456789abcdef0123",)
    assert feedback.effect(fb, entry).action == "unsubscribe"


def test_a_second_try_that_bounces_too_is_not_promised_a_third(engine, cohort, tmp_path, fake_google):
    """Bob's reminder bounces soft and is sent again once; that second try bounces soft too. The
    summary must not say "sent again once" for it (nothing is sent again), and says so instead."""
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 2), "night-1")
    fake_google.deliver(dsn(_reminders(fake_google)["bob@x.org"], "bob@x.org", "4.2.2"))
    _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3), "night-2")  # his second try goes
    second = _reminders(fake_google)["bob@x.org"]
    assert b"|retry" not in second and _ledger(engine)[("bob@x.org", "reminder", True)][0] == "sent"
    fake_google.deliver(dsn(second, "bob@x.org", "4.2.2"))
    ctx, read = _night(engine, cohort, tmp_path, fake_google, local(2026, 12, 3, 20), "night-3")
    assert read["bounce_soft"] == 1
    assert _ledger(engine)[("bob@x.org", "reminder", True)] == ("bounced", "soft")
    summary = " ".join((ctx.folder("c1") / "summary.txt").read_text().split())
    assert "sent again once" not in summary, summary[:600]
    assert "1 came back on their second try and are not sent again" in summary
    assert "Bob <bob@x.org>: bounced (soft), not sent again (it was the second try)" in summary
    assert sum(1 for (to, kind, _), _v in _ledger(engine).items() if to == "bob@x.org" and kind == "reminder") == 2
