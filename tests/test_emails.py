"""Rendered emails: names encoded, HTML escaped, no header injection, one recipient."""
from __future__ import annotations

import email
import email.policy

from helpers import make_cohort
from onboarding.delivery.messages import customer_email


def parse(msg):
    return email.message_from_bytes(bytes(msg), policy=email.policy.default)


def test_header_injection_in_a_name_adds_no_recipient():
    msg = parse(customer_email(make_cohort(), "reminder", "mallory@x.org",
                               "Mallory\r\nBcc: everyone@attacker.example\r\nX-Evil: 1", "onb-1"))
    assert msg["Bcc"] is None and msg["X-Evil"] is None and msg["Cc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["mallory@x.org"]
    assert "everyone@attacker.example" not in [a.addr_spec for a in msg["To"].addresses]
    assert b"\nBcc:" not in bytes(customer_email(make_cohort(), "reminder", "m@x.org", "M\nBcc: e@a.b", "r"))


def test_utf8_names_are_encoded_and_read_back():
    raw = bytes(customer_email(make_cohort(), "welcome", "z@x.org", "Zoë Brontë 王芳", "onb-2"))
    assert raw.isascii()  # headers RFC 2047-encoded, bodies transfer-encoded
    msg = parse(raw)
    assert msg["To"].addresses[0].display_name == "Zoë Brontë 王芳"
    assert "Hi Zoë Brontë 王芳," in msg.get_body(("plain",)).get_content()


def test_html_is_autoescaped_and_text_is_not():
    msg = parse(customer_email(make_cohort(), "cancellation", "e@x.org", "<b>Eve</b> & co", "onb-3"))
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in html and "<b>Eve</b>" not in html
    assert "Hi <b>Eve</b> & co," in text


def test_each_kind_names_the_cohort_deadline_and_reference():
    cohort = make_cohort(next_steps=("Join the chat",), course_url="https://learn.example/c1")
    for kind in ("reminder", "cancellation", "welcome"):
        msg = parse(customer_email(cohort, kind, "a@x.org", "Ann", "onb-0123"))
        text = msg.get_body(("plain",)).get_content()
        assert "Test Cohort" in text and "onb-0123" in text and "Hi Ann," in text
        assert msg["X-Onboarding-Ref"] == "onb-0123"
        assert msg["From"].addresses[0].addr_spec == "team@example.edu"
    text = parse(customer_email(cohort, "reminder", "a@x.org", "Ann", "r")).get_body(("plain",)).get_content()
    assert "Friday 04 December 2026, 23:59 (Australia/Sydney)" in text
    welcome = parse(customer_email(cohort, "welcome", "a@x.org", "Ann", "r")).get_body(("plain",)).get_content()
    assert "- Join the chat" in welcome


def test_the_byte_scan_refuses_what_a_mail_program_would_read_as_more():
    """``check_message`` scans the bytes instead of parsing them: a bare line feed, a header in a
    part the code did not set, an 8-bit header, a second To, an address with an encoded word or a
    group are each refused, while the message as built passes."""
    import pytest

    from onboarding.delivery.messages import Built, check_message
    from onboarding.errors import UnsafeMessage

    good = bytes(customer_email(make_cohort(), "reminder", "a@x.org", "Ann", "onb-1"))
    check_message(Built({}, [good[:-2]], b""), "a@x.org")
    head, body = good.split(b"\r\n\r\n", 1)
    bad = {
        "bare LF": head + b"\nBcc: e@evil.example\r\n\r\n" + body,
        "part header": head + b"\r\n\r\n" + body.replace(b"Content-Transfer-Encoding", b"X-Evil: 1\r\nContent-Transfer-Encoding", 1),
        "8-bit": head.replace(b"To: Ann", "To: Änn".encode("utf-8")) + b"\r\n\r\n" + body,
        "twice": head + b"\r\nTo: e@evil.example\r\n\r\n" + body,
        "encoded word": head.replace(b"<a@x.org>", b"<=?utf-8?q?e=40evil.example?=a@x.org>") + b"\r\n\r\n" + body,
        "group": head.replace(b"To: Ann <a@x.org>", b"To: friends: a@x.org, e@evil.example;") + b"\r\n\r\n" + body,
        "second address": head.replace(b"<a@x.org>", b"<a@x.org>, e@evil.example") + b"\r\n\r\n" + body,
    }
    for why, raw in bad.items():
        with pytest.raises(UnsafeMessage):
            check_message(Built({}, [raw], b""), "a@x.org")
            pytest.fail(why)


def test_an_email_is_dated_by_the_clock_the_ledger_sends_it_on(monkeypatch):
    """Issue 23.11 (e): the demo replays past nights (``ONBOARDING_SIMULATED_NOW``, and the real
    moment the night began, ``..._SINCE``); its emails are dated on that night, as the ledger's
    sent_at is, not by the machine's clock. Elsewhere (no ``..._SINCE``) the wall clock dates them."""
    import datetime as dt
    import email.utils

    from onboarding.delivery.messages import Rendered, build_message

    def date_of(**extra):
        msg = build_message(sender="Course <course@example.edu>", to_email="ann@x.org", to_name="Ann",
                            content=Rendered("Hello", "text", "<p>html</p>"), ref="onb-0123456789abcdef0123", **extra)
        return email.utils.parsedate_to_datetime(msg["Date"])

    monkeypatch.setenv("ONBOARDING_SIMULATED_NOW", "2026-11-30T19:00:00+00:00")
    monkeypatch.setenv("ONBOARDING_SIMULATED_SINCE", dt.datetime.now(dt.timezone.utc).isoformat())
    night = dt.datetime(2026, 11, 30, 19, tzinfo=dt.timezone.utc)
    for extra in ({}, {"cc": ("team@example.edu",)}):  # a customer's email; a summary with its copy
        assert night <= date_of(**extra) < night + dt.timedelta(minutes=5), extra
    monkeypatch.delenv("ONBOARDING_SIMULATED_SINCE")
    assert abs(date_of() - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
