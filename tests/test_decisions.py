"""The business rules over a whole timeline: six days before the deadline to two after."""
from __future__ import annotations

import datetime as dt

import pytest

from helpers import local, make_cohort
from onboarding.identity import EmailId, References
from onboarding.decisions.rules import Customer, decide, due_kinds, standing

D = dt.date(2026, 12, 4)  # deadline date; nightly runs at 06:00 Sydney


def run_timeline(cohort, people, days):
    """Run the rules each night like the pipeline does, with a ledger; return {date: {(email, kind)}}."""
    ledger: dict[str, dict[str, str]] = {}
    sent_by_day = {}
    for day in days:
        as_of = local(day.year, day.month, day.day)
        sent = set()
        for signed_up, cust in people:
            if signed_up is not None and signed_up > as_of:
                continue  # not signed up yet as of this night
            completed = cust.completed_at if cust.completed_at and cust.completed_at <= as_of else None
            c = Customer(cust.email, cust.name, completed, cust.held)
            for d in decide(c, cohort, as_of, ledger.get(c.email, {})):
                if d.due:
                    ledger.setdefault(c.email, {})[d.kind] = "sent"
                    sent.add((c.email, d.kind))
        sent_by_day[day] = sent
    return sent_by_day


def test_whole_timeline_sends_each_email_once_on_the_right_night():
    cohort = make_cohort()
    utc = dt.timezone.utc
    people = [
        (None, Customer("early@x.org", "Early", local(2026, 11, 24, 10))),
        (None, Customer("mid@x.org", "Mid", local(2026, 12, 2, 12))),  # completes inside the window
        (None, Customer("never@x.org", "Never", None)),
        (None, Customer("latecomer@x.org", "Late", local(2026, 12, 5, 3))),  # after deadline, before next run
        (None, Customer("lastminute@x.org", "Last", local(2026, 12, 4, 23, 30))),
        (local(2026, 12, 2, 20), Customer("latesignup@x.org", "Late Signup", None)),
        (None, Customer("held@x.org", "Held", None, held=True)),
        # 2026-12-04 13:30 UTC is 00:30 on 5 Dec in Sydney: late, though the UTC date is the deadline date.
        (None, Customer("utcdate@x.org", "UTC", dt.datetime(2026, 12, 4, 13, 30, tzinfo=utc))),
        (None, Customer("utcontime@x.org", "UTC On Time", dt.datetime(2026, 12, 4, 12, 30, tzinfo=utc))),
    ]
    days = [D + dt.timedelta(days=i) for i in range(-6, 3)]
    sent = run_timeline(cohort, people, days)
    expected = {
        D - dt.timedelta(days=6): set(),
        D - dt.timedelta(days=5): set(),
        D - dt.timedelta(days=4): set(),
        D - dt.timedelta(days=3): {("mid@x.org", "reminder"), ("never@x.org", "reminder"),
                                   ("latecomer@x.org", "reminder"), ("lastminute@x.org", "reminder"),
                                   ("utcdate@x.org", "reminder"), ("utcontime@x.org", "reminder")},
        D - dt.timedelta(days=2): set(),
        D - dt.timedelta(days=1): {("latesignup@x.org", "reminder")},
        D: set(),
        D + dt.timedelta(days=1): {("early@x.org", "welcome"), ("mid@x.org", "welcome"),
                                   ("lastminute@x.org", "welcome"), ("utcontime@x.org", "welcome"),
                                   ("never@x.org", "cancellation"), ("latecomer@x.org", "cancellation"),
                                   ("latesignup@x.org", "cancellation"), ("utcdate@x.org", "cancellation")},
        D + dt.timedelta(days=2): set(),
    }
    assert sent == expected
    everything = [e for day in sent.values() for e in day]
    assert len(everything) == len(set(everything)), "an email went out twice"
    got = {}
    for email, kind in everything:
        got.setdefault(email, set()).add(kind)
    assert not any({"welcome", "cancellation"} <= kinds for kinds in got.values())
    assert "held@x.org" not in got


def test_rerun_of_same_night_decides_the_same():
    cohort = make_cohort()
    c = Customer("a@x.org", "A", None)
    as_of = local(2026, 12, 5)
    assert decide(c, cohort, as_of, {}) == decide(c, cohort, as_of, {})
    assert [d.outcome for d in decide(c, cohort, as_of, {"cancellation": "sent"})] == ["already_sent"]


def test_grace_period_moves_the_deadline():
    cohort = make_cohort(grace_period=dt.timedelta(hours=12))
    done = local(2026, 12, 5, 9)  # 9 hours after the end of the deadline date
    c = Customer("a@x.org", "A", done)
    assert standing(c, cohort, local(2026, 12, 6)) == "on_time"
    # Without grace the same completion is late.
    assert standing(c, make_cohort(), local(2026, 12, 6)) == "completed_late"
    # The first run after the deadline is the one after the grace period ends.
    pending = Customer("b@x.org", "B", None)
    assert due_kinds(pending, cohort, local(2026, 12, 5, 6)) == [("reminder", due_kinds(pending, cohort, local(2026, 12, 5, 6))[0][1])]
    assert due_kinds(pending, cohort, local(2026, 12, 6, 6))[0][0] == "cancellation"


def test_welcome_at_completion_when_configured():
    cohort = make_cohort(welcome_timing="on_completion")
    c = Customer("a@x.org", "A", local(2026, 11, 20))
    assert [k for k, _ in due_kinds(c, cohort, local(2026, 11, 21))] == ["welcome"]
    assert [k for k, _ in due_kinds(c, make_cohort(), local(2026, 11, 21))] == []


def test_reminder_days_before_is_configurable():
    cohort = make_cohort(reminder_days_before=5)
    c = Customer("a@x.org", "A", None)
    assert due_kinds(c, cohort, local(2026, 11, 28)) == []
    assert due_kinds(c, cohort, local(2026, 11, 29))[0][0] == "reminder"


@pytest.mark.parametrize("rival_status,expected", [
    ("sent", "blocked"), ("unconfirmed", "blocked"), ("drafted", "blocked"), ("claimed", "blocked"),
    ("pending", "due"), ("superseded", "due"), ("failed", "due"),
])
def test_never_both_cancellation_and_welcome(rival_status, expected):
    """A customer cancelled on the first night after the deadline whose completion shows up in a
    later export is not then welcomed: the instructor is asked instead."""
    cohort = make_cohort()
    c = Customer("a@x.org", "A", local(2026, 12, 3))
    (d,) = decide(c, cohort, local(2026, 12, 6), {"cancellation": rival_status})
    assert (d.kind, d.outcome) == ("welcome", expected)


def test_failed_email_is_not_retried_automatically():
    cohort = make_cohort()
    (d,) = decide(Customer("a@x.org", "A", None), cohort, local(2026, 12, 2), {"reminder": "failed"})
    assert d.outcome == "failed_earlier"


def test_keys_and_refs_are_stable_and_distinct():
    refs = References("s" * 32)
    k1, k2 = EmailId("c1", "a@x.org", "reminder"), EmailId("c1", "a@x.org", "welcome")
    assert k1.key != k2.key and refs(k1) == refs(k1) and refs(k1) != refs(k2)
    assert refs(k1).startswith("onb-") and len(refs(k1)) == 24
    assert References("t" * 32)(k1) != refs(k1)  # another deployment's secret: another reference


def test_a_reference_is_the_hmac_of_the_key_made_the_same_one_at_a_time_or_many_at_once():
    import hashlib
    import hmac

    refs = References("s" * 32)
    ids = [EmailId("c|1", "a%b@x.org", "reminder"), None, EmailId.journey("c1", "b@x.org", "setup", "welcome", 2),
           EmailId("c1", "a@x.org", "welcome").resend("run|1").retried()]
    # The key is made once per identity and kept (a night reads it twice per email): still the same key.
    assert ids[0].key == ids[0].key == "c%7C1|a%25b@x.org|reminder"
    expected = [None if e is None else "onb-" + hmac.new(b"s" * 32, e.key.encode(), hashlib.sha256).hexdigest()[:20]
                for e in ids]
    assert refs.many(ids) == expected == [None if e is None else refs(e) for e in ids]
    # The kept key is no field: two identities with the same parts are equal whether or not one was keyed.
    assert EmailId("c|1", "a%b@x.org", "reminder") == ids[0] and hash(EmailId("c|1", "a%b@x.org", "reminder")) == hash(ids[0])
