"""Delivery through the ledger: at most once, with refused and lost sends retried safely.

Gmail tests use the real google-api-python-client against the local fake Google server."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa

from helpers import make_cohort
from onboarding.backoff import RetryPolicy
from onboarding.identity import EmailId, References
from onboarding.delivery.ledger import BatchItem, Ledger, deliver_batch, deliver_one
from onboarding.delivery.messages import customer_email
from onboarding.delivery.senders import OUTBOX_BATCH, GmailSender, OutboxSender, outbox_factory, outbox_label
from onboarding.google_api import gmail_service
from onboarding.store import Store
from onboarding.times import iso, utcnow

COHORT = make_cohort()
FAST = RetryPolicy(attempts=4, base_delay=0.0, lease_seconds=600)


REFS = References("delivery-tests-secret-" * 3)


def plan(engine, email_addr, kind="reminder"):
    return Store(engine).ledger.plan_one(EmailId(COHORT.id, email_addr, kind), "r1", REFS, "N")["email_key"]


def builder(email_addr, key, kind="reminder"):
    return lambda: (customer_email(COHORT, kind, email_addr, "N", REFS(EmailId(COHORT.id, email_addr, kind))),
                    outbox_label(COHORT.id, kind, email_addr))


def ledger_row(engine, key):
    return Store(engine).ledger.get(key)


@pytest.fixture
def gmail(fake_google):
    return GmailSender(gmail_service(fake_google.gmail_extra(), timeout=1.0))


def test_outbox_writes_each_email_once(engine, tmp_path):
    sender = OutboxSender(tmp_path / "outbox")
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), sender, key, builder("a@x.org", key), FAST)
    assert out.status == "sent"
    files = list((tmp_path / "outbox").rglob("*.eml"))
    assert [f.relative_to(tmp_path / "outbox").parts[:2] for f in files] == [("c1", "reminder")]
    # A second run (another owner) finds nothing to claim.
    again = deliver_one(Ledger(Store(engine), "run2", "run2"), sender, key, builder("a@x.org", key), FAST)
    assert again.status == "skipped"
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 1
    assert ledger_row(engine, key)["status"] == "sent"


def test_gmail_send_refused_then_retried_without_duplicate(engine, fake_google, gmail):
    fake_google.script("drafts.send", "429", "503")
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "sent"
    assert [to for to, _ in fake_google.sent_to()] == ["N <a@x.org>"]
    row = ledger_row(engine, key)
    assert row["status"] == "sent" and row["provider_message_id"] in fake_google.sent
    assert row["attempts"] == 3 and not fake_google.drafts


def test_gmail_lost_reply_is_recovered_from_sent_not_resent(engine, fake_google, gmail):
    fake_google.script("drafts.send", "lost")  # stored, then a 500: the client cannot know
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "recovered"
    assert len(fake_google.sent) == 1
    assert ledger_row(engine, key)["provider_message_id"] in fake_google.sent


def test_gmail_lost_draft_reply_reuses_the_draft(engine, fake_google, gmail):
    fake_google.script("drafts.create", "lost")
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "sent"
    assert len(fake_google.sent) == 1 and not fake_google.drafts


def test_gmail_timeout_then_recovery(engine, fake_google, gmail):
    fake_google.slow_seconds = 1.5  # the client times out after 1s; the server sends anyway
    fake_google.script("drafts.send", "slow")
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status in ("recovered", "sent")
    import time

    time.sleep(0.7)  # let the slow request finish on the server
    assert len(fake_google.sent) == 1


def test_worker_killed_between_send_and_ledger_write(engine, fake_google, gmail):
    """The send went out but the worker died before recording it: the next attempt, after the
    lease ran out, finds the email in Sent and records it instead of sending again."""
    key = plan(engine, "a@x.org")
    dead = Ledger(Store(engine), "run1-try1", "run1")
    row = dead.claim(key, "gmail", lease_seconds=600)
    draft = gmail.create_draft(builder("a@x.org", key)()[0], "x")
    dead.drafted(key, draft)
    gmail.send_draft(draft)  # ... and the worker is killed here
    # Another run, while the dead worker's lease still runs, leaves the email alone.
    assert deliver_one(Ledger(Store(engine), "run2", "run2"), gmail, key, builder("a@x.org", key), FAST).status == "skipped"
    # Airflow's retry of the same run takes over at once, finds the email in Sent, records it.
    out = deliver_one(Ledger(Store(engine), "run1-try2", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "recovered"
    assert len(fake_google.sent) == 1 and row["attempts"] == 1


def test_expired_lease_lets_another_run_recover(engine, fake_google, gmail):
    key = plan(engine, "a@x.org")
    dead = Ledger(Store(engine), "run1-try1", "run1")
    dead.claim(key, "gmail", lease_seconds=600)
    dead.drafted(key, gmail.create_draft(builder("a@x.org", key)()[0], "x"))  # killed before sending
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE email_ledger SET lease_until = :t"),
                     {"t": iso(utcnow() - dt.timedelta(seconds=1))})
    out = deliver_one(Ledger(Store(engine), "run2", "run2"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "sent"  # the existing draft was sent, not a new one
    assert len(fake_google.sent) == 1 and not fake_google.drafts


def test_invalid_recipient_fails_for_good_and_the_batch_goes_on(engine, fake_google, gmail):
    bad, good = plan(engine, "x@invalid.example"), plan(engine, "b@x.org")
    ledger = Ledger(Store(engine), "run1", "run1")
    assert deliver_one(ledger, gmail, bad, builder("x@invalid.example", bad), FAST).status == "failed"
    assert deliver_one(ledger, gmail, good, builder("b@x.org", good), FAST).status == "sent"
    assert ledger_row(engine, bad)["status"] == "failed"
    assert "Invalid To header" in ledger_row(engine, bad)["last_error"]
    assert [to for to, _ in fake_google.sent_to()] == ["N <b@x.org>"]


def test_persistent_refusal_leaves_the_email_waiting(engine, fake_google, gmail):
    fake_google.script("drafts.send", "503", "503", "503", "503")
    key = plan(engine, "a@x.org")
    out = deliver_one(Ledger(Store(engine), "run1", "run1"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "waiting" and not fake_google.sent
    assert ledger_row(engine, key)["status"] == "drafted"
    # The next run delivers it, reusing its draft.
    out = deliver_one(Ledger(Store(engine), "run2", "run2"), gmail, key, builder("a@x.org", key), FAST)
    assert out.status == "sent" and len(fake_google.sent) == 1 and not fake_google.drafts


def test_bad_credentials_stop_with_an_error_that_hides_the_secret(engine, fake_google):
    sender = GmailSender(gmail_service(fake_google.gmail_extra(client_secret="wrong-secret-value"), timeout=1.0))
    key = plan(engine, "a@x.org")
    with pytest.raises(Exception) as err:
        deliver_one(Ledger(Store(engine), "run1", "run1"), sender, key, builder("a@x.org", key), FAST)
    assert "wrong-secret-value" not in str(err.value)
    assert ledger_row(engine, key)["status"] == "claimed" and not fake_google.sent


def _plan_many(engine, n):
    store = Store(engine)
    addrs = [f"l{i:04d}@x.org" for i in range(n)]
    keys = [store.ledger.plan_one(EmailId(COHORT.id, a, "reminder"), "r1", REFS, "N")["email_key"] for a in addrs]
    return [BatchItem(k, builder(a, k)) for a, k in zip(addrs, keys)]


def _events(engine, keys):
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT email_key, event FROM ledger_events")).all()
    return Counter((k, e) for k, e in rows if k in keys)


def test_the_outbox_sends_a_chunk_at_a_time_each_email_once_with_every_ledger_step(engine, tmp_path):
    """The outbox's chunks write the ledger once per step for many emails, yet every email has
    its own claimed, drafted and sent event and row, and goes out once."""
    items = _plan_many(engine, OUTBOX_BATCH + 50)
    factory = outbox_factory(tmp_path / "outbox", concurrency=2)
    out = deliver_batch(Ledger(Store(engine), "run1", "run1"), factory, items, FAST)
    keys = {i.email_key for i in items}
    assert [o.status for o in out] == ["sent"] * len(items) and [o.email_key for o in out] == [i.email_key for i in items]
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == len(items)
    assert not list((tmp_path / "outbox" / ".drafts").rglob("*.eml"))
    events = _events(engine, keys)
    assert {events[(k, e)] for k in keys for e in ("claimed", "drafted", "sent")} == {1}
    assert {ledger_row(engine, k)["status"] for k in keys} == {"sent"}
    again = deliver_batch(Ledger(Store(engine), "run2", "run2"), factory, items, FAST)
    assert {o.status for o in again} == {"skipped"}
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == len(items)


KILLED_MID_CHUNK = """
import os, signal, sys
sys.path[:0] = {paths!r}
from test_delivery import COHORT, FAST, REFS, builder
from onboarding.delivery.ledger import BatchItem, Ledger, deliver_batch
from onboarding.delivery.senders import OutboxSender, SenderFactory, OUTBOX_BATCH
from onboarding.delivery.quota import Limits
from onboarding.store import Store, db

class Dying(OutboxSender):
    sent = 0
    def send_draft(self, draft_id):
        if Dying.sent == {kill_after}:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no ledger write: as the OOM killer does
        Dying.sent += 1
        return super().send_draft(draft_id)

items = [BatchItem(k, builder(a, k)) for a, k in {pairs!r}]
factory = SenderFactory(lambda _p: Dying({root!r}), "outbox", Limits(0, 10**9, 1), batch=OUTBOX_BATCH)
deliver_batch(Ledger(Store(db.make_engine({url!r})), "try1", "r1"), factory, items, FAST)
"""


def test_a_send_killed_mid_chunk_is_finished_by_the_retry_without_a_duplicate(engine, tmp_path):
    """SIGKILLed after some of a chunk's drafts were sent but before the chunk's sends were
    recorded: Airflow's retry (a new owner, the same run) finds those in the outbox (recovered),
    sends the drafted rest, and no email goes twice or is lost."""
    import subprocess
    import sys
    from pathlib import Path

    items = _plan_many(engine, OUTBOX_BATCH + 30)
    tests = Path(__file__).resolve().parent
    code = KILLED_MID_CHUNK.format(paths=[str(tests), str(tests.parent)], kill_after=OUTBOX_BATCH // 2,
                                   pairs=[(f"l{i:04d}@x.org", it.email_key) for i, it in enumerate(items)],
                                   root=str(tmp_path / "outbox"), url=engine.url.render_as_string(hide_password=False))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    keys = {i.email_key for i in items}
    assert {ledger_row(engine, k)["status"] for k in keys} == {"drafted", "pending"}  # the sends went unrecorded
    assert len(list((tmp_path / "outbox").glob("*/*/*.eml"))) == OUTBOX_BATCH // 2
    out = deliver_batch(Ledger(Store(engine), "try2", "r1"), outbox_factory(tmp_path / "outbox"), items, FAST)
    counts = Counter(o.status for o in out)
    assert counts == {"recovered": OUTBOX_BATCH // 2, "sent": len(items) - OUTBOX_BATCH // 2}
    files = list((tmp_path / "outbox").glob("*/*/*.eml"))
    assert len(files) == len(items) == len({f.name for f in files})
    assert not list((tmp_path / "outbox" / ".drafts").rglob("*.eml"))
    assert {ledger_row(engine, k)["status"] for k in keys} == {"sent"}
