"""The byte scan (``check_message``) against the email package: whatever hostile values a customer
email is built from, either it is refused (``UnsafeMessage``), or a strict reading of its bytes by
the email package finds exactly what was meant: the one recipient, the sender, the name and subject
as cleaned, only the headers the code sets (each once, in the message and in its two parts), a
multipart/alternative of text/plain and text/html whose decoded bodies are the rendered ones.

And the scan alone, on a built message with a line or a byte changed: whatever it accepts reads
back with the same recipients, headers and parts."""
from __future__ import annotations

import os
import re

import pytest

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from onboarding.addresses import is_plain_address
from onboarding.delivery.messages import Unsubscribe, build_message, check_message
from onboarding.errors import UnsafeMessage
from onboarding.templates import Rendered
from scan_oracle import problems

# 300 examples each in the suite; HYPOTHESIS_PROFILE=fuzz runs 20,000 (about 5 minutes).
EXAMPLES = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 300
fuzzed = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = ["=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?=", "=?utf-8?q?x=40evil.example=3e=00?=", "=?", "?=",
             "= ?", "=", "?", "\r\n", "\n", "\r", "\r\n ", "\r\n\t", "\r\n\r\n", "Bcc: evil@evil.example",
             "To: evil@evil.example", "Content-Type: text/html", ",", ";", ":", "<", ">", '"', "\\", "@", "(", ")",
             "[", "]", ".", "..", "evil.example", "<evil@evil.example>", "\x00", "\t", "\x0b", "\x0c", "\x1b", "\x7f",
             "\x85", "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff", "\xa0", "\u3000", " ", "  ",
             "Zoë", "王芳", "e\u0301", "😀", "\U000e0041", "x" * 60, "x" * 300, "é" * 120, "--", "==",
             "--===============", "{{ 7*7 }}", "{% raw %}", "<script>alert(1)</script>", "&amp;", "%", "_", "|",
             "/", "+tag", "'"]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=10).map("".join)
ATEXT = "a-z0-9!#$%&'*+/=?^_`{|}~-"
address = st.one_of(
    st.from_regex(rf"[{ATEXT}]{{1,20}}(\.[{ATEXT}]{{1,10}}){{0,2}}@[a-z0-9]([a-z0-9-]{{0,8}}[a-z0-9])?\.(org|edu|xn--p1ai)",
                  fullmatch=True),
    st.integers(1, 64).flatmap(lambda n: st.integers(1, 3).map(
        lambda k: "a" * n + "@" + ".".join(["b" * 63] * k) + ".org")),
).filter(is_plain_address)
body = st.one_of(hostile, st.text(max_size=200),
                 st.lists(st.sampled_from(["a", " ", "\t", "=", "\n", "\r\n", "\r", ".", "-", "x" * 75, "é", "\x00"]),
                          max_size=60).map("".join))
sender_name = st.one_of(st.just(""), st.just("Course Team"), hostile.map(lambda s: s[:200]))


def _sender(name: str, addr: str) -> str:
    """A sender as the code makes one for a CSM (``stage_email``): ``str(Address(...))``."""
    from email.headerregistry import Address

    from onboarding.delivery.messages import header_text

    return str(Address(display_name=header_text(name), addr_spec=addr))


@fuzzed
@example(name="é" * 50, to="ann@x.org", subject="s", text="t", html="h", csm=("", "team@example.edu"), unsub=False)
@example(name='Eve" <evil@evil.example>, "x', to="a|b@x.org", subject="=?utf-8?q?x?=", text="line=\n",
         html="--===============1==\n", csm=("Zoë, <a@b.c>", "csm+tag@example.edu"), unsub=True)
@given(name=hostile, to=address, subject=hostile, text=body, html=body,
       csm=st.tuples(sender_name, address), unsub=st.booleans())
def test_a_built_message_is_refused_or_reads_back_exactly_as_meant(name, to, subject, text, html, csm, unsub):
    sender = _sender(*csm)
    unsubscribe = Unsubscribe("team+unsubscribe@example.edu", "https://ui.example/onboarding/unsubscribe?t=AbC.dEf"
                              if unsub else None)
    try:
        msg = build_message(sender=sender, to_email=to, to_name=name, content=Rendered(subject, text, html),
                            ref="onb-0123456789abcdef0123", unsubscribe=unsubscribe)
    except UnsafeMessage:
        # Refusing a customer who typed an unusual name is an outage for that customer, not a
        # safety problem; the valid addresses above must never be refused.
        raise AssertionError(f"a valid message was refused: name={name!r} to={to!r} sender={sender!r}")
    found = problems(bytes(msg), to=to, name=name, sender=sender, subject=subject, text=text, html=html)
    assert not found, found


def _mutations():
    """A line inserted among the headers or a part's headers, or one byte replaced."""
    line = st.one_of(st.sampled_from([b" ", b"\t", b" \t", b"Bcc: e@evil.example", b"bcc: e@evil.example",
                                      b"Cc: e@evil.example", b"To: e@evil.example", b" Bcc: e@evil.example",
                                      b"Reply-To: e@evil.example", b"Content-Type: text/html",
                                      b"Content-ID: <x>", b"X-Onboarding-Ref: 2", b"From e@evil.example"]),
                     st.binary(max_size=30))
    return st.one_of(
        st.tuples(st.just("line"), st.integers(0, 10_000), line),
        st.tuples(st.just("byte"), st.integers(0, 10_000),
                  st.sampled_from([b"\r", b"\n", b"\x00", b" ", b"\t", b",", b";", b"<", b">", b"\"", b"(", b"-", b":",
                                   b"=", b"?", b"@", b"\\", b"\x80"])),
    )


BASE = build_message(sender="Team <team@example.edu>", to_email="ann@x.org", to_name="Ann Lee",
                     content=Rendered("Hi there", "text\n", "<p>h</p>\n"), ref="onb-1",
                     unsubscribe=Unsubscribe("team+unsubscribe@example.edu", "https://ui.example/u?t=a"))


class _Raw:
    def __init__(self, raw: bytes):
        self.raw = raw

    def __bytes__(self) -> bytes:
        return self.raw


@fuzzed
@given(st.lists(_mutations(), min_size=1, max_size=3))
def test_what_the_scan_accepts_reads_back_with_the_same_recipients_and_headers(mutations):
    """The scan's promise: recipients, sender, header set (each once, in the message and its parts)
    and the parts a mail program shows. (A changed byte in the name or a body is a different name
    or body, which no scan of the bytes alone can tell from the meant one.)"""
    raw = bytes(BASE)
    for how, at, what in mutations:
        if how == "line":
            starts = [0] + [i + 2 for i in range(len(raw)) if raw[i:i + 2] == b"\r\n"]
            pos = starts[at % len(starts)]
            raw = raw[:pos] + what + b"\r\n" + raw[pos:]
        else:
            pos = at % len(raw)
            raw = raw[:pos] + what + raw[pos + 1:]
    try:
        check_message(_Raw(raw), "ann@x.org", (), "team@example.edu")
    except UnsafeMessage:
        return
    found = problems(raw, to="ann@x.org", name="Ann Lee", sender="Team <team@example.edu>")
    structural = re.compile(r"name reads")
    found = [f for f in found if not structural.search(f)]
    assert not found, (raw, found)


@pytest.mark.parametrize("change", ["second delimiter damaged", "third part", "whitespace-only header line",
                                    "not multipart", "unquoted boundary", "a parameter before the boundary",
                                    "junk after the closing delimiter", "a NUL in the subject",
                                    "a quoted encoded word as the name", "a part before the first delimiter",
                                    "an epilogue after the closing delimiter"])
def test_the_scan_refuses_what_a_mail_program_reads_otherwise(change):
    """Each of these passed the scan before it checked the MIME structure (found by an attacker's
    pass); the email package reads each differently from the message that was built."""
    raw = bytes(BASE)
    head, _, body = raw.partition(b"\r\n\r\n")
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)
    dash = b"--" + boundary
    if change == "second delimiter damaged":
        first, rest = body.split(b"\r\n" + dash + b"\r\n", 1)
        raw = head + b"\r\n\r\n" + first + b"\r\n" + dash + b"X\r\n" + rest
    elif change == "third part":
        raw = raw.replace(dash + b"--\r\n", dash + b"\r\nContent-Type: text/html\r\n\r\n"
                          b"<p>not meant for this customer</p>\r\n" + dash + b"--\r\n")
    elif change == "whitespace-only header line":
        raw = raw.replace(b"Subject: Hi there\r\n", b"Subject: Hi there\r\n \r\n", 1)
    elif change == "not multipart":
        raw = raw.replace(b"multipart/alternative;", b"text/plain;", 1)
    elif change == "unquoted boundary":
        raw = raw.replace(b'boundary="' + boundary + b'"', b"boundary=" + boundary, 1)
    elif change == "a parameter before the boundary":
        raw = raw.replace(b"multipart/alternative;", b'multipart/alternative; boundary="x";', 1)
    elif change == "junk after the closing delimiter":
        raw = raw.replace(dash + b"--\r\n", dash + b"--junk\r\nBcc: e@evil.example\r\n\r\nhidden\r\n" + dash + b"--\r\n")
    elif change == "a NUL in the subject":
        raw = raw.replace(b"Subject: Hi there", b"Subject: Hi\x00 there", 1)
    elif change == "a quoted encoded word as the name":
        raw = raw.replace(b"To: Ann Lee <ann@x.org>", b'To: "=?utf-8?q?evil=40evil.example?=" <ann@x.org>', 1)
    elif change == "an epilogue after the closing delimiter":  # found by the fuzzed run: an empty line
        raw = raw.replace(dash + b"--\r\n", dash + b"--\r\n\r\n")
    else:
        raw = raw.replace(b"\r\n\r\n" + dash + b"\r\n", b"\r\n\r\npreamble\r\n" + dash + b"\r\n", 1)
    assert raw != bytes(BASE)
    if change not in ("a part before the first delimiter", "a quoted encoded word as the name"):
        assert problems(raw, to="ann@x.org", name="Ann Lee", sender="Team <team@example.edu>",
                        subject="Hi there", text="text\n", html="<p>h</p>\n")  # the email package reads it otherwise
    with pytest.raises(UnsafeMessage):
        check_message(_Raw(raw), "ann@x.org", (), "team@example.edu")


def test_the_instructors_summary_with_charts_and_files_passes_the_same_scan():
    """The summary (copies, inline charts, CSV files) is built by the email package and scanned
    the same way (``build_message`` returns only what passed): its nested parts read back as the
    parts it was built with. The same bytes, claimed to be a customer's email, are refused."""
    msg = build_message(sender="Team <team@example.edu>", to_email="boss@x.org", to_name="Boss",
                        cc=("data@x.org",), content=Rendered("Summary", "text\n", "<p>h</p>\n"), ref="onb-2",
                        images={"funnel": b"\x89PNG\r\n\x1a\n" + b"x" * 300},
                        attachments=[("late.csv", "\ufeffemail\r\nann@x.org\r\n".encode())])
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png",
        "text/csv"]
    check_message(msg, "boss@x.org", ("data@x.org",), "team@example.edu")
    with pytest.raises(UnsafeMessage, match="reads as parts"):
        check_message(_Raw(bytes(msg)), "boss@x.org", ("data@x.org",), "team@example.edu")
