"""Delivery benchmark: prints figures, asserts nothing.

    .venv/bin/python scripts/bench_delivery.py [--emails 1000] [--concurrency 4] [--quota-seconds 75]

0. **The local outbox**: N emails rendered, built, checked, claimed, drafted, sent and recorded
   through the ledger (SQLite), written as .eml files: emails per second and CPU ms per email
   (the issue's target: at least 1,000 a second, at most 1 ms of CPU each).
1. **Our overhead**: N emails rendered, claimed, drafted, sent and recorded through the ledger
   (SQLite) with the real Gmail client against the local fake Gmail with no quota: sends per
   second and per minute, and CPU seconds per email. Gmail's own ceiling is about 60 sends a
   minute per user, so this must be far above it.
2. **Pacing under a quota**: the fake enforces a per-user quota (units per rolling minute, as
   Gmail does) and the pacer is set to the same rate; over ``--quota-seconds`` we report the share
   of the quota the run actually used and how many 429s it drew. The quota is scaled up (default
   60,000 units a minute) so the run spans more than one quota minute in reasonable time; the
   pacing logic does not depend on the scale.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fake_google import FakeGoogle  # noqa: E402

import datetime as dt  # noqa: E402

from onboarding.backoff import RetryPolicy  # noqa: E402
from onboarding.cohorts import Cohort, SourceConfig  # noqa: E402
from onboarding.identity import EmailId  # noqa: E402
from onboarding.delivery.ledger import BatchItem, Ledger, deliver_batch  # noqa: E402
from onboarding.delivery.messages import customer_email  # noqa: E402
from onboarding.delivery.quota import Limits  # noqa: E402
from onboarding.delivery.senders import GmailSender, SenderFactory, outbox_factory, outbox_label  # noqa: E402
from onboarding.google_api import gmail_service  # noqa: E402
from onboarding.store import Store, db  # noqa: E402

COHORT = Cohort(id="bench", title="Benchmark Cohort", deadline=dt.date(2026, 12, 4), timezone="Australia/Sydney",
                sender="Team <team@example.edu>", instructor="boss@example.edu",
                signups=SourceConfig("signups", "csv", {"email": "e", "name": "n"}, {"path": "x"}),
                completions=SourceConfig("completions", "csv", {"email": "e", "completed_at": "c"}, {"path": "x"}))


def setup(tmp: Path, n: int, tag: str):
    store = Store(db.make_engine(f"sqlite:///{tmp / f'{tag}.db'}"))
    store.migrate()
    rows, items = [], []
    refs = store.ledger.references()
    for i in range(n):
        e = f"learner{i:05d}@x.org"
        email = EmailId(COHORT.id, e, "reminder")
        ref = refs(email)
        rows.append({**email.columns(), "ref": ref, "recipient_name": f"Learner {i}"})

        def build(e=e, ref=ref, i=i):
            return customer_email(COHORT, "reminder", e, f"Learner {i}", ref), outbox_label(COHORT.id, "reminder", e)

        items.append(BatchItem(email.key, build))
    store.ledger.plan(rows, tag)
    return store, items


def factory(fake: FakeGoogle, units_per_minute: int, concurrency: int) -> SenderFactory:
    extra = fake.gmail_extra()
    return SenderFactory(lambda pacer: GmailSender(gmail_service(extra), "me", "gmail:bench", pacer), "gmail:bench",
                         Limits(units_per_minute=units_per_minute, daily_cap=10**9, concurrency=concurrency))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--emails", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--quota", type=int, default=60000, help="units per minute for the paced run")
    ap.add_argument("--quota-seconds", type=float, default=75.0)
    ap.add_argument("--outbox-emails", type=int, default=10000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))

    store, items = setup(tmp, args.outbox_emails, "outbox")
    c0, t0 = cpu(), time.perf_counter()
    out = deliver_batch(Ledger(store, "outbox", "outbox"), outbox_factory(tmp / "outbox", 1), items, RetryPolicy())
    wall, used = time.perf_counter() - t0, cpu() - c0
    sent = sum(o.status == "sent" for o in out)
    print(f"0. local outbox, {args.outbox_emails} emails, one thread: {sent} sent in {wall:.1f}s = "
          f"{sent / wall:.0f} emails/s; CPU {used / max(sent, 1) * 1000:.2f} ms per email", flush=True)

    fake = FakeGoogle().start()
    store, items = setup(tmp, args.emails, "free")
    c0, t0 = cpu(), time.perf_counter()
    out = deliver_batch(Ledger(store, "free", "free"), factory(fake, 0, args.concurrency), items, RetryPolicy())
    wall, used = time.perf_counter() - t0, cpu() - c0
    sent = sum(o.status == "sent" for o in out)
    print(f"1. no quota, {args.emails} emails, concurrency {args.concurrency} (fake server in the same process):")
    print(f"   {sent} sent in {wall:.1f}s = {sent / wall:.1f} sends/s = {sent / wall * 60:.0f} sends/min "
          f"(Gmail allows ~60/min per user); CPU {used / max(sent, 1) * 1000:.1f} ms per email (ours + fake)")
    fake.stop()

    fake = FakeGoogle().start()
    fake.quota_per_minute = args.quota
    n = int(args.quota / 110 * args.quota_seconds / 60 * 1.5) + 50  # more than the time allows
    store, items = setup(tmp, n, "paced")
    f = factory(fake, args.quota, args.concurrency)
    policy = RetryPolicy(max_throttle_wait=args.quota_seconds)
    deadline = time.monotonic() + args.quota_seconds
    stop_items = []
    # Feed the batch until the time is up, so the measured window is full of demand.
    t0 = time.monotonic()
    done = 0
    chunk = max(args.concurrency * 10, 50)
    while time.monotonic() < deadline and done < len(items):
        stop_items = items[done:done + chunk]
        deliver_batch(Ledger(store, "paced", "paced"), f, stop_items, policy)
        done += len(stop_items)
    elapsed = time.monotonic() - t0
    allowed = args.quota * elapsed / 60
    print(f"2. paced at {args.quota} units/min against a fake enforcing the same quota, {elapsed:.0f}s:")
    print(f"   {len(fake.sent)} sent, {fake.units_used} units used of {allowed:.0f} allowed "
          f"= {fake.units_used / allowed:.1%} of the quota; {fake.quota_429s} quota 429s; "
          f"pacer waited {f.pacer.waited:.0f}s in total across threads")
    fake.stop()


if __name__ == "__main__":
    main()
