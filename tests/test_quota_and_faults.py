"""Quota, daily cap, throttles, priorities and fault injection: every due email is delivered
exactly once, and the ledger agrees with the fake Gmail's mailbox message for message."""
from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from helpers import make_cohort
from onboarding.backoff import RetryPolicy, retry_after_seconds
from onboarding.identity import EmailId, References
from onboarding.delivery.ledger import BatchItem, Ledger, deliver_batch
from onboarding.delivery.messages import customer_email
from onboarding.delivery.quota import Limits, Pacer
from onboarding.delivery.senders import GmailSender, SenderFactory, outbox_label
from onboarding.google_api import gmail_service
from onboarding.store import Store

COHORT = make_cohort()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_pacer_spreads_calls_at_the_configured_rate():
    clock = FakeClock()
    pacer = Pacer(6000, clock=clock, sleep=clock.sleep)  # 100 units a second
    for _ in range(11):
        pacer.take(100)
    assert clock.now == pytest.approx(10.0)  # the first from the full bucket, then one a second
    pacer.pause(30)
    pacer.take(5)
    assert clock.now == pytest.approx(40.0)  # nothing passes during the pause; then the refilled bucket
    assert pacer.units_taken == 1105


def test_unpaced_pacer_never_waits():
    clock = FakeClock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        pacer.take(100)
    assert clock.now == 0


def test_retry_after_from_header_or_message():
    now = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds("7", None, now) == 7
    assert retry_after_seconds("Mon, 23 Nov 2026 05:01:00 GMT", None, now) == 60
    assert retry_after_seconds(None, "User-rate limit exceeded.  Retry after 2026-11-23T05:40:00.000Z", now) == 2400
    assert retry_after_seconds(None, "Backend Error", now) is None


REFS = References("quota-tests-secret-" * 3)


def plan(engine, emails, kind="reminder"):
    ids = [EmailId(COHORT.id, e, kind) for e in emails]
    Store(engine).ledger.plan([{**i.columns(), "ref": REFS(i), "recipient_name": "N"} for i in ids], "r")
    return [(i.key, i.recipient, i.kind) for i in ids]


def items(keys):
    def build(key, e, kind):
        return lambda: (customer_email(COHORT, kind, e, "N", REFS(EmailId(COHORT.id, e, kind))), outbox_label(COHORT.id, kind, e))

    return [BatchItem(key, build(key, e, kind)) for key, e, kind in keys]


def factory(fake, **limits):
    extra = fake.gmail_extra()
    lim = Limits(**{"units_per_minute": 0, "concurrency": 4, **limits})
    return SenderFactory(lambda pacer: GmailSender(gmail_service(extra, timeout=2.0), "me", "gmail:test", pacer),
                         "gmail:test", lim)


FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def ledger_statuses(engine):
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT recipient, status FROM email_ledger")).all())


def test_daily_cap_counts_the_last_24_hours_and_leaves_the_rest_due(engine, fake_google):
    earlier = plan(engine, [f"old{i}@x.org" for i in range(2)])
    deliver_batch(Ledger(Store(engine), "r0", "r0"), factory(fake_google), items(earlier), FAST)
    keys = plan(engine, [f"a{i}@x.org" for i in range(8)])
    outcomes = deliver_batch(Ledger(Store(engine), "r1", "r1"), factory(fake_google, daily_cap=5, concurrency=1),
                             items(keys), FAST)
    assert Counter(o.status for o in outcomes) == {"sent": 3, "waiting": 5}
    assert len(fake_google.sent) == 5
    with engine.connect() as conn:
        notes = conn.execute(sa.text("SELECT DISTINCT last_error FROM email_ledger WHERE status = 'pending'")).scalars().all()
    assert notes == ["daily cap of 5 emails in 24 hours reached"]
    # The first three in order went: the batch keeps the order it is given (most urgent first).
    assert [o.status for o in outcomes[:3]] == ["sent"] * 3


def test_a_long_throttle_stops_the_batch_and_the_next_run_finishes(engine, fake_google):
    fake_google.quota_per_minute = 330  # room for 3 drafts (10) and 3 sends (100), then a long wait
    keys = plan(engine, [f"a{i}@x.org" for i in range(6)])
    outcomes = deliver_batch(Ledger(Store(engine), "r1", "r1"), factory(fake_google, concurrency=1, max_throttle_wait=5),
                             items(keys), RetryPolicy(attempts=4, base_delay=0.01, max_throttle_wait=5))
    statuses = Counter(o.status for o in outcomes)
    assert statuses["sent"] == 3 and statuses["waiting"] == 3
    assert "Gmail asked to wait" in next(o.detail for o in outcomes if o.status == "waiting")
    fake_google.quota_per_minute = None
    deliver_batch(Ledger(Store(engine), "r2", "r2"), factory(fake_google), items(keys), FAST)
    assert sorted(to for to, _ in fake_google.sent_to()) == sorted(f"N <a{i}@x.org>" for i in range(6))


def test_pacing_keeps_under_the_quota_without_429s(engine, fake_google):
    fake_google.quota_per_minute = 6000
    keys = plan(engine, [f"a{i}@x.org" for i in range(12)])
    # 6,000 units a minute = 100 a second: 12 sends (110 units each with the draft) take ~12 s.
    out = deliver_batch(Ledger(Store(engine), "r1", "r1"), factory(fake_google, units_per_minute=6000, concurrency=4),
                        items(keys), FAST)
    assert all(o.status == "sent" for o in out)
    assert fake_google.quota_429s == 0


@pytest.mark.parametrize("seed", [7])
def test_1000_emails_through_refusals_and_lost_replies_exactly_once(engine, fake_google, seed):
    """30% of calls refused (429 with a retry time, or 503), 5% of replies lost after Gmail stored
    the message, 10 invalid recipients; passes repeat (as Airflow retries and later runs would)
    until nothing is due. Every good email is in Sent exactly once and the ledger matches."""
    fake_google.rng.seed(seed)
    fake_google.retry_after = 0
    fake_google.rates = {"429": 0.15, "503": 0.15, "lost": 0.05}
    good = [f"learner{i:04d}@x.org" for i in range(990)]
    bad = [f"typo{i}@invalid.example" for i in range(10)]
    keys = plan(engine, good + bad)
    passes = 0
    while passes < 20:
        passes += 1
        outcomes = deliver_batch(Ledger(Store(engine), f"run{passes}", f"run{passes}"), factory(fake_google, concurrency=8),
                                 items(keys), FAST)
        if not any(o.status == "waiting" for o in outcomes):
            break
    statuses = ledger_statuses(engine)
    recipients = Counter(to.split("<")[1].rstrip(">") for to, _ in fake_google.sent_to())
    duplicates = {r: n for r, n in recipients.items() if n > 1}
    lost = [e for e in good if recipients[e] == 0]
    print(f"\nfault injection: {len(recipients)} delivered, {len(duplicates)} duplicates, {len(lost)} lost, "
          f"{passes} passes, faults served {dict(fake_google.faults_served)}")
    assert duplicates == {} and lost == []
    assert set(recipients) == set(good)
    assert all(statuses[e] == "sent" for e in good) and all(statuses[e] == "failed" for e in bad)
    assert fake_google.faults_served["lost"] > 0 and fake_google.faults_served["429"] > 100
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT provider_message_id FROM email_ledger WHERE status = 'sent'")).scalars().all()
    assert sorted(ids) == sorted(fake_google.sent)  # the ledger agrees with the mailbox, message for message


def test_two_runs_started_together_send_each_email_once(engine, fake_google):
    fake_google.rates = {"503": 0.1}
    keys = plan(engine, [f"a{i:03d}@x.org" for i in range(200)])
    results = {}

    def run(name):
        results[name] = deliver_batch(Ledger(Store(engine), name, name), factory(fake_google, concurrency=4), items(keys), FAST)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("run-a", "run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Whatever either left waiting, later runs finish (each may itself meet refusals).
    for n in range(10):
        later = deliver_batch(Ledger(Store(engine), f"later-{n}", f"later-{n}"), factory(fake_google), items(keys), FAST)
        if not any(o.status == "waiting" for o in later):
            break
    recipients = Counter(to for to, _ in fake_google.sent_to())
    assert len(recipients) == 200 and max(recipients.values()) == 1
    sent_by = Counter(o.status for r in results.values() for o in r)
    assert sent_by["skipped"] > 0  # each run found emails the other had claimed


def test_a_long_send_says_how_far_it_has_got(engine, fake_google, monkeypatch):
    """Every PROGRESS_SECONDS the batch reports done, total, outcomes so far, rate and time left,
    and once more at the end, so thousands of emails are never half an hour of silence."""
    from onboarding.delivery import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "PROGRESS_SECONDS", 0.0)  # report after every email
    keys = plan(engine, [f"p{i}@x.org" for i in range(6)])
    seen = []
    deliver_batch(Ledger(Store(engine), "r1", "r1"), factory(fake_google, daily_cap=4, concurrency=2), items(keys),
                  FAST, progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5, 6, 6]  # each email, then the end
    assert all(p.total == 6 for p in seen) and seen[-1].counts == {"sent": 4, "waiting": 2}
    assert seen[-1].per_minute > 0 and seen[-1].seconds_left == 0
    assert seen[0].seconds_left is not None and seen[0].seconds_left >= 0
