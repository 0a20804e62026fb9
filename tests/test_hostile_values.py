"""Hostile input is normal input: for any name, email cell and timestamp text, either the row is
quarantined with a reason, or what is built from it is exactly what the code means to send.

Property-based (Hypothesis): the fragments below are what attackers and careless exporters put in
cells (encoded words, line breaks, header names, separators, invisible characters, huge values);
Hypothesis combines them with arbitrary text. The number of examples is bounded for CI
(``HYPOTHESIS_PROFILE=fuzz`` runs many more)."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import make_cohort
from onboarding.delivery.messages import HEADERS, MAX_LINE_BYTES, build_message, check_message, customer_email
from onboarding.delivery.messages import Rendered
from onboarding.errors import UnsafeMessage
from onboarding.validation.values import (EARLIEST, FURTHEST_AHEAD, clean_names, email_problems, name_problems,
                                          normalise_emails, parse_timestamps)

settings.register_profile("ci", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=20000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

COHORT = make_cohort()
FRAGMENTS = ["=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?=", "=?utf-8?q?x=40evil.example=3e=00?=",
             "=?", "?=", "\r\n", "\n", "\r", "Bcc: evil@evil.example", "To: evil@evil.example", ",", ";", "<", ">",
             '"', "@", "evil.example", "\x00", "\t", "\u2028", "\u202e", "\u200b", "\ufeff", " ", "..", "(", ")",
             "\\", "Zoë", "王芳", "x" * 300]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=8).map("".join)
email_like = st.one_of(
    hostile,
    st.tuples(hostile, st.sampled_from(["@x.org", "@example.org", "@evil.example"])).map("".join),
    st.from_regex(r"[a-z0-9._%+=?-]{1,20}@[a-z0-9-]{1,10}\.(org|edu)", fullmatch=True))


def parse(msg):
    return email.message_from_bytes(bytes(msg), policy=email.policy.default)


def assert_safe(msg, to: str):
    """Exactly one recipient, the intended one; only the headers the builder sets; SMTP line limits."""
    raw = bytes(msg)
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE_BYTES
    parsed = parse(msg)
    assert {k.lower() for k in parsed.keys()} <= {h.lower() for h in HEADERS}
    assert [a.addr_spec for a in parsed["To"].addresses] == [to]
    assert parsed["Cc"] is None and parsed["Bcc"] is None


@given(name=hostile, cell=email_like)
def test_any_name_and_email_cell_is_quarantined_or_goes_to_exactly_that_customer(name, cell):
    emails = normalise_emails(pd.Series([cell], dtype=object))
    names = clean_names(pd.Series([name], dtype=object))
    refused = email_problems(emails).iloc[0] or name_problems(pd.Series([name], dtype=object), names, True).iloc[0]
    if refused:
        return  # quarantined, with its reason: nothing is built from it
    assert_safe(customer_email(COHORT, "reminder", emails.iloc[0], names.iloc[0], "onb-prop"), emails.iloc[0])


@example(name="=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?==?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?="
              "Bcc: evil@evil.example;")  # read back as a group, the email package raised AttributeError
@given(name=hostile)
def test_the_builder_alone_never_lets_a_name_add_a_recipient_or_header(name):
    """Defence in depth: even a name that validation would have refused cannot change who the
    message goes to; a message that cannot be built safely is refused, never sent."""
    try:
        msg = customer_email(COHORT, "welcome", "ann@x.org", name, "onb-prop")
    except UnsafeMessage:
        return
    assert_safe(msg, "ann@x.org")


@given(text=st.one_of(hostile, st.text(max_size=40),
                      st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
                          lambda d: d.isoformat()),
                      st.tuples(st.datetimes(), st.sampled_from(["Z", "+11:00", "-12:00", "+14:00", ""])).map(
                          lambda t: t[0].isoformat() + t[1]),
                      st.floats(allow_nan=True, allow_infinity=True).map(str)),
       fmt=st.sampled_from([None, "%m/%d/%Y %H:%M:%S", ("excel_serial", "%d.%m.%Y %H:%M"), "%Y-%m-%d %H:%M%z"]),
       tz=st.sampled_from(["Australia/Sydney", "America/New_York", "UTC", "Pacific/Kiritimati"]))
def test_any_timestamp_text_is_a_plausible_instant_or_a_reason(text, fmt, tz):
    as_of = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)
    when, reasons = parse_timestamps(pd.Series([text], dtype=object), tz, fmt, as_of)
    if reasons.iloc[0] is not None:
        assert isinstance(reasons.iloc[0], str) and pd.isna(when.iloc[0])
        return
    if pd.isna(when.iloc[0]):
        assert not str(text).strip()  # only an empty cell has no time and no reason
        return
    instant = when.iloc[0].to_pydatetime()
    assert instant.tzinfo is not None and EARLIEST <= instant <= as_of + FURTHEST_AHEAD


@pytest.mark.parametrize("name,reason", [
    ("=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?=", "name contains an encoded word"),
    ("=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxlLCBSZWFs?=", "name contains an encoded word"),
    ("x" * 5000, "name longer than 200 characters"),
])
def test_the_reported_names_are_quarantined(name, reason):
    names = clean_names(pd.Series([name], dtype=object))
    assert reason in name_problems(pd.Series([name], dtype=object), names, True).iloc[0]


def test_the_reported_messages_are_now_built_safely():
    """The cases the issue reported, built by the message builder directly (as if validation had
    let them through): no Bcc, the same single recipient, every line within 998 bytes."""
    for name in ("=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?=", "=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxlLCBSZWFs?=",
                 "x" * 5000):
        assert_safe(customer_email(COHORT, "reminder", "bob@x.org", name, "onb-1"), "bob@x.org")
    cell = normalise_emails(pd.Series(["=?utf-8?q?x=40evil.example=3e=00?=d17@example.org"]))
    assert "encoded word" in email_problems(cell).iloc[0]
    with pytest.raises(UnsafeMessage, match="not only to the intended recipient"):
        customer_email(COHORT, "reminder", cell.iloc[0], "Bob", "onb-1")


def test_a_message_with_a_header_the_code_did_not_set_is_refused():
    content = Rendered("Hi", "text", "<p>html</p>")
    msg = build_message(sender="Team <team@example.edu>", to_email="a@x.org", to_name="A", content=content, ref="r")
    msg["Bcc"] = "evil@evil.example"
    with pytest.raises(UnsafeMessage, match="did not set"):
        check_message(msg, "a@x.org")
    msg = build_message(sender="Team <team@example.edu>", to_email="a@x.org", to_name="A", content=content, ref="r")
    with pytest.raises(UnsafeMessage, match="copied to"):
        check_message(msg, "a@x.org", cc=("data@x.org",))


@given(st.lists(st.text(max_size=300), min_size=1, max_size=20), st.lists(st.text(max_size=60), min_size=1, max_size=20),
       st.lists(st.text(max_size=300), min_size=1, max_size=20))
def test_any_events_cell_is_a_plain_name_a_finite_number_an_https_link_or_a_reason(names, values, links):
    """A journey's events export: whatever a cell holds (formulas, control characters, 'NaN',
    'inf', javascript: links, encoded words), the row is quarantined with a reason or the value
    kept is safe: an event name of the plain alphabet, a finite number, one https:// address."""
    import math
    import re

    from onboarding.validation.values import event_links, event_names, event_values

    n = min(len(names), len(values), len(links))
    index = pd.RangeIndex(n)
    got_names, name_why = event_names(pd.Series(names[:n], index=index, dtype=object))
    got_values, value_why = event_values(pd.Series(values[:n], index=index, dtype=object), index)
    got_links, link_why = event_links(pd.Series(links[:n], index=index, dtype=object), index)
    for i in range(n):
        if name_why[i] is None:
            assert re.fullmatch(r"[a-z0-9][a-z0-9_.:-]{0,99}", got_names[i]), names[i]
        if value_why[i] is None:
            assert got_values[i] is None or math.isfinite(got_values[i]), values[i]
        if link_why[i] is None:
            assert got_links[i] is None or re.fullmatch(r"https://[^\s<>\"'`|]+", got_links[i]), links[i]


@given(st.lists(st.text(max_size=150), min_size=1, max_size=20),
       st.lists(st.one_of(st.text(max_size=20), st.integers(-10, 200_000).map(str),
                          st.floats(allow_nan=True, allow_infinity=True).map(str)), min_size=1, max_size=20))
def test_any_attribute_or_capacity_cell_is_plain_text_a_whole_number_in_range_or_a_reason(attributes, capacities):
    """A customer's attribute (their language, matched to a CSM's) and a roster's capacity:
    whatever a cell holds, the row is quarantined with a reason, or the value kept is one line of
    plain text of at most 100 characters (compared lower-cased), or a whole number of customers
    from 1 to 100,000."""
    from onboarding.validation.values import _INVISIBLE, attribute_values, capacities as read_capacities

    index = pd.RangeIndex(len(attributes))
    got, why = attribute_values(pd.Series(attributes, index=index, dtype=object))
    for i, text in enumerate(attributes):
        if why[i] is None:
            assert got[i] is None or (got[i] == got[i].lower() and len(got[i]) <= 100
                                      and not _INVISIBLE.search(got[i]) and got[i] == got[i].strip()), text
            assert (got[i] is None) == (text.strip() == "")
    index = pd.RangeIndex(len(capacities))
    got, why = read_capacities(pd.Series(capacities, index=index, dtype=object))
    for i, text in enumerate(capacities):
        if why[i] is None:
            assert isinstance(got[i], int) and 1 <= got[i] <= 100_000, text
        else:
            assert got[i] is None and why[i].startswith(("capacity is not", "missing capacity"))


@given(cells=st.lists(st.one_of(hostile, email_like, st.none()), max_size=12))
def test_the_column_readers_fast_paths_read_every_cell_as_the_one_value_rules_do(cells):
    """A column of names is cleaned as ``clean_name`` cleans each one (most names skip the
    replacements; whatever is skipped must already be clean), and an address's reason is the first
    that holds of: an encoded word, missing, too long, not a plain address."""
    from onboarding.addresses import EMAIL_REGEX, MAX_EMAIL_CHARS
    import re

    from onboarding.validation.values import clean_name

    column = pd.Series(cells, dtype=object)
    assert clean_names(column).tolist() == [clean_name(c) for c in cells]
    for cell, reason in zip(cells, email_problems(column).tolist()):
        text = "" if cell is None else cell
        if "=?" in text:
            assert "encoded word" in reason
        elif not text:
            assert reason == "missing email"
        elif len(text) > MAX_EMAIL_CHARS or text.find("@") > 64:
            assert reason == f"email address longer than {MAX_EMAIL_CHARS} characters"
        else:
            assert reason == (None if re.fullmatch(EMAIL_REGEX, text) else "invalid email address")


@example(cell="\u212aelvin@x.org")  # the Kelvin sign: lower-cased, it was the ASCII kelvin@x.org
@example(cell="\u212aELVIN@X.ORG")
@given(cell=st.one_of(hostile, email_like, st.text(max_size=30)))
def test_an_address_cell_with_a_character_beyond_ascii_is_never_an_address(cell):
    """An address is matched as written, trimmed, lower-cased only when all ASCII: no character
    beyond ASCII turns into an ASCII one (``str.lower`` folds the Kelvin sign into ``k``), so a
    cell nobody can receive at is refused, never read as someone else's address."""
    from onboarding.addresses import normalised

    column = normalise_emails(pd.Series([cell], dtype=object))
    assert column.tolist() == [normalised(cell)]
    if not cell.strip().isascii():
        assert email_problems(column).iloc[0] is not None


def test_a_kelvin_sign_signup_is_quarantined_and_kelvin_is_not_emailed(engine, tmp_path):
    """Through the night's stages: the signup written with a Kelvin sign is quarantined (file,
    row, column), the completion for the ASCII address finds no signup (an orphan), and nobody
    at kelvin@x.org is emailed; the customer beside it is."""
    import sqlalchemy as sa

    from helpers import csv_cohort, local, run_stages

    (tmp_path / "signups.csv").write_text("Email,Name,When\n\u212aelvin@x.org,Kay,\nann@x.org,Ann,\n", encoding="utf-8")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nkelvin@x.org,2026-11-20T09:00:00+11:00\n"
                                              "ann@x.org,2026-11-21T09:00:00+11:00\n", encoding="utf-8")
    run_stages(engine, csv_cohort(tmp_path), tmp_path, local(2026, 12, 5))
    with engine.connect() as conn:
        quarantined = conn.execute(sa.text("SELECT source, source_row, reason FROM quarantine")).all()
        ledger = conn.execute(sa.text("SELECT recipient, kind FROM email_ledger WHERE kind != 'summary'")).all()
    assert [(q.source, q.source_row) for q in quarantined] == [("signups", 2)]
    assert "invalid email address" in quarantined[0].reason
    assert ledger == [("ann@x.org", "welcome")]
    sent = sorted(p.name.split(".onb")[0] for p in (tmp_path / "outbox").rglob("*.eml"))
    assert "kelvin@x.org" not in sent and "ann@x.org" in sent
