"""The suppression list: a "do not contact" honoured when a run decides and again when it sends,
an unsubscribe that stops marketing but not a cancellation, and every email not sent listed with
why in the instructor's summary."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from helpers import csv_cohort, local, run_stages
from onboarding import pipeline
from onboarding.cohorts import _cohort
from onboarding.consent import Suppression, normalise_suppression
from onboarding.decisions.suppression import apply
from onboarding.delivery.senders import outbox_factory
from onboarding.errors import ConfigError
from onboarding.run import RunContext
from onboarding.store import Store


def test_the_rule_for_every_reason_and_class():
    d = pd.DataFrame({"email": ["a@x.org", "b@y.org", "c@x.org", "d@z.org", "e@z.org"],
                      "kind": ["reminder", "welcome", "cancellation", "welcome", "reminder"],
                      "outcome": ["due", "due", "already_sent", "due", "would_send"],
                      "reason": ["r"] * 5})
    entries = [Suppression("a@x.org", "manual", "cli"), Suppression("@y.org", "hard_bounce", "bounce"),
               Suppression("c@x.org", "complaint", "cli"), Suppression("@z.org", "unsubscribed", "link")]
    out = apply(d, entries, {"reminder": "transactional", "cancellation": "transactional", "welcome": "marketing"},
                ("due", "would_send"))
    assert out["outcome"].tolist() == ["suppressed", "suppressed", "already_sent", "suppressed", "would_send"]
    assert out["reason"][0] == "not sent: the address is suppressed (manual, from cli)"
    assert out["reason"][1].startswith("not sent: the domain y.org is suppressed (hard bounce")
    # An unsubscribe stopped the marketing welcome (d) but not the transactional reminder (e).


@pytest.mark.parametrize("raw, kept", [(" Ann@X.org ", "ann@x.org"), ("@Example.ORG", "@example.org"),
                                       ("example.org", "@example.org")])
def test_entries_are_kept_in_one_form(raw, kept):
    assert normalise_suppression(raw) == kept


@pytest.mark.parametrize("raw", ["", "ann", "a b@x.org", "<a@x.org>", "a@x.org,b@x.org"])
def test_an_entry_that_is_no_address_is_refused(raw):
    with pytest.raises(ValueError):
        normalise_suppression(raw)


def test_the_cohort_file_names_classes_and_suppressions(tmp_path):
    base = {"id": "c1", "title": "C", "deadline": "2026-12-04", "timezone": "Australia/Sydney",
            "sender": "a@x.org", "instructor": "b@x.org",
            "sources": {r: {"type": "csv", "path": "f.csv", "columns": cols} for r, cols in (
                ("signups", {"email": "E", "name": "N"}), ("completions", {"email": "E", "completed_at": "D"}))}}
    c = _cohort({**base, "email_classes": {"welcome": "marketing"}, "suppress": ["Ann@X.org", "@spam.example"]},
                {}, tmp_path, "cohorts[0]", (tmp_path,))
    assert c.email_classes == {"reminder": "transactional", "cancellation": "transactional", "welcome": "marketing"}
    assert c.suppress == ("ann@x.org", "@spam.example")
    for bad, message in (({"email_classes": {"welcome": "promo"}}, "must each be one of"),
                         ({"email_classes": {"digest": "marketing"}}, "unknown email kind"),
                         ({"suppress": ["not an address"]}, "neither an email address nor a domain")):
        with pytest.raises(ConfigError, match=message):
            _cohort({**base, **bad}, {}, tmp_path, "cohorts[0]", (tmp_path,))


@pytest.fixture
def cohort(tmp_path):
    (tmp_path / "signups.csv").write_text("Email,Name,When\n" + "".join(
        f"{n}@{d},{n.title()},2026-11-01T10:00\n" for n, d in (
            ("ann", "x.org"), ("bob", "x.org"), ("cat", "spam.example"), ("dan", "x.org"))))
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n")
    return dataclasses.replace(csv_cohort(tmp_path), suppress=("@spam.example",))


def sent_to(tmp_path, kind):
    folder = tmp_path / "outbox" / "c1" / kind
    return sorted(p.name.split(".onb-")[0] for p in folder.glob("*.eml")) if folder.exists() else []


def test_a_suppressed_address_gets_nothing_and_she_is_told(engine, cohort, tmp_path):
    store = Store(engine)
    store.suppressions.add("BOB@x.org", "manual", "command line", note="asked by phone")
    store.suppressions.add("ann@x.org", "unsubscribed", "unsubscribe link")  # stops marketing only
    ctx, _ = run_stages(engine, cohort, tmp_path, local(2026, 12, 2))
    assert sent_to(tmp_path, "reminder") == ["ann@x.org", "dan@x.org"]
    with engine.connect() as conn:
        decided = dict(conn.execute(sa.text("SELECT email, outcome FROM decisions WHERE run_id = 'night-1'")).all())
        ledger = conn.execute(sa.text("SELECT recipient FROM email_ledger WHERE kind = 'reminder'")).scalars().all()
    assert decided == {"ann@x.org": "due", "bob@x.org": "suppressed", "cat@spam.example": "suppressed",
                       "dan@x.org": "due"}
    assert sorted(ledger) == ["ann@x.org", "dan@x.org"]  # nothing suppressed enters the ledger
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "2 email(s) were not sent: the address is on the suppression list" in summary.replace("\n", " ")
    assert "Bob <bob@x.org>: not sent: the address is suppressed (manual, from command line" in summary
    assert "Cat <cat@spam.example>: not sent: the domain spam.example is suppressed (manual, from the cohort file" \
        in summary


def test_an_address_suppressed_between_decide_and_send_is_not_sent_to(engine, cohort, tmp_path):
    store = Store(engine)
    ctx = RunContext("night-1", local(2026, 12, 2), False, tmp_path / "data")
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)
    store.suppressions.add("dan@x.org", "hard_bounce", "bounce", cohort_id="c1")  # a bounce read meanwhile
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    tally = pipeline.send(store, cohort, ctx, outbox)
    assert tally == {"suppressed": 1, "sent": 2} and sent_to(tmp_path, "reminder") == ["ann@x.org", "bob@x.org"]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT status, last_error FROM email_ledger WHERE recipient = 'dan@x.org'")).one()
    assert row.status == "superseded" and row.last_error.startswith("suppressed after the run decided: the address")
    pipeline.report(store, cohort, ctx, outbox)
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "Dan <dan@x.org>: suppressed after the run decided: the address is suppressed (hard bounce" in summary


def test_the_command_line_adds_lists_and_removes(engine):
    url = engine.url.render_as_string(hide_password=False)
    cli = [sys.executable, "-m", "onboarding.ops.suppress", "--url", url]
    added = subprocess.run([*cli, "add", "Eve@X.org", "--reason", "complaint", "--note", "spam report"],
                           capture_output=True, text=True)
    assert added.returncode == 0 and "suppressed eve@x.org for every cohort (complaint)" in added.stdout
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True).stdout
    assert listed.startswith("eve@x.org\t*\tcomplaint\tcommand line\t") and "spam report" in listed
    assert subprocess.run([*cli, "add", "nobody", "--reason", "manual"], capture_output=True).returncode == 2
    assert subprocess.run([*cli, "remove", "eve@x.org"], capture_output=True).returncode == 0
    assert Store(engine).suppressions.all() == []


# --- unsubscribing from marketing emails ------------------------------------------------------------
def test_unsubscribe_tokens_name_one_customer_and_cannot_be_forged():
    from onboarding.consent import read_unsubscribe_token, unsubscribe_mailto, unsubscribe_token

    token = unsubscribe_token("s3cret", "c1", "ann@x.org")
    assert read_unsubscribe_token("s3cret", token) == ("c1", "ann@x.org")
    forged = unsubscribe_token("guess", "c1", "bob@x.org")
    for bad in (forged, token[:-2] + "AA", token.replace(token.split(".")[0], forged.split(".")[0]), "", "x" * 2000,
                "no-dot", "!!!.!!!"):
        assert read_unsubscribe_token("s3cret", bad) is None, bad
    assert unsubscribe_mailto("team+news@example.edu") == "team+unsubscribe@example.edu"


def test_a_marketing_email_says_how_to_unsubscribe_and_a_transactional_one_does_not(engine, cohort, tmp_path):
    import email
    import email.policy

    from onboarding.cohorts import SourceConfig

    (tmp_path / "signups.csv").write_text("Email,Name,When,Consent\nann@x.org,Ann,2026-11-01T10:00,yes\n"
                                          "bob@x.org,Bob,2026-11-01T10:00,yes\n")
    marketing = dataclasses.replace(cohort, suppress=(), email_classes={
        "reminder": "transactional", "cancellation": "transactional", "welcome": "marketing"},
        signups=SourceConfig("signups", "csv", {**cohort.signups.columns, "consent": "Consent"},
                             cohort.signups.options))
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nann@x.org,2026-11-20T01:00:00Z\n")
    store = Store(engine)
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    ctx = RunContext("night-1", local(2026, 12, 5), False, tmp_path / "data", ui_url="https://airflow.example.edu")
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, marketing, ctx)
    pipeline.send(store, marketing, ctx, outbox, unsubscribe_secret="s3cret")

    def read(kind, who):
        (p,) = (tmp_path / "outbox" / "c1" / kind).glob(f"{who}.*.eml")
        return email.message_from_bytes(p.read_bytes(), policy=email.policy.default)

    welcome = read("welcome", "ann@x.org")
    header = welcome["List-Unsubscribe"]
    assert header.startswith("<mailto:team+unsubscribe@example.edu?subject=unsubscribe%20onb-")
    assert "<https://airflow.example.edu/onboarding/unsubscribe?t=" in header
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Unsubscribe from these emails: https://airflow.example.edu/onboarding/unsubscribe?t=" in \
        welcome.get_body(("plain",)).get_content()
    assert "Unsubscribe from these emails</a>" in welcome.get_body(("html",)).get_content()
    cancel = read("cancellation", "bob@x.org")
    assert cancel["List-Unsubscribe"] is None and "Unsubscribe" not in cancel.get_body(("plain",)).get_content()


def test_the_onboarding_page_suppresses_before_the_next_run_decides(engine, cohort, tmp_path):
    from types import SimpleNamespace

    from onboarding.pipeline import privacy

    store = Store(engine)
    kept = privacy.suppress(store, SimpleNamespace(cohorts={"c1": cohort}), "Dan@x.org  @Spam.example,dan@x.org",
                            "c1", None, "instructor")
    assert kept == ["dan@x.org", "@spam.example"]
    ctx = RunContext("night-1", local(2026, 12, 2), False, tmp_path / "data", triggered_by="instructor")
    outbox = lambda: outbox_factory(tmp_path / "outbox")  # noqa: E731
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, dataclasses.replace(cohort, suppress=()), ctx)
    pipeline.send(store, cohort, ctx, outbox)
    assert sent_to(tmp_path, "reminder") == ["ann@x.org", "bob@x.org"]
    entries = {r["address"]: r for r in store.suppressions.all()}
    assert set(entries) == {"dan@x.org", "@spam.example"}
    assert (entries["dan@x.org"]["source"], entries["dan@x.org"]["added_by"], entries["dan@x.org"]["cohort_id"]) == (
        "onboarding page", "instructor", "c1")


def test_marketing_goes_only_to_those_whose_signup_recorded_consent(engine, tmp_path):
    from onboarding.cohorts import SourceConfig

    (tmp_path / "signups.csv").write_text(
        "Email,Name,When,Marketing OK\n"
        "ann@x.org,Ann,2026-11-01T10:00,Yes\n"
        "bob@x.org,Bob,2026-11-01T10:00,\n"
        "cat@x.org,Cat,2026-11-01T10:00,maybe later\n"
        "dan@x.org,Dan,2026-11-01T10:00, ✓ \n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n" + "".join(
        f"{n}@x.org,2026-11-20T01:00:00Z\n" for n in ("ann", "bob", "cat", "dan")))
    base = csv_cohort(tmp_path)
    cohort = dataclasses.replace(
        base, consent_wording="2026-10 form v3",
        email_classes={"reminder": "transactional", "cancellation": "transactional", "welcome": "marketing"},
        signups=SourceConfig("signups", "csv", {**base.signups.columns, "consent": "Marketing OK"},
                             base.signups.options))
    ctx, _ = run_stages(engine, cohort, tmp_path, local(2026, 12, 5))
    assert sent_to(tmp_path, "welcome") == ["ann@x.org", "dan@x.org"]
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT email, outcome || ': ' || reason FROM decisions "
                                         "WHERE kind = 'welcome'")).all())
    assert rows["bob@x.org"] == "no_consent: not sent: no recorded consent to marketing emails (consent wording " \
                                "2026-10 form v3)"
    assert rows["cat@x.org"].startswith("no_consent")
    summary = (ctx.folder("c1") / "summary.txt").read_text()
    assert "Bob <bob@x.org>: not sent: no recorded consent to marketing emails" in summary


def test_an_erased_person_is_never_written_back(engine, cohort, tmp_path):
    """After an erasure no write path stores the person's address again, whatever still names it
    (an old unsubscribe link, the trigger form, the command line, a late bounce or unsubscribe
    mail, a resend): each recognises them by the erasure's salted hash. Erased from one cohort,
    they are refused there and still handled as a customer of the others."""
    import datetime as dt

    from mailbox_messages import dsn, unsubscribe_mail
    from onboarding.pipeline.erasure import address_pattern, erase

    run_stages(engine, cohort, tmp_path, local(2026, 12, 2))
    sent = next((tmp_path / "outbox" / "c1" / "reminder").glob("ann@x.org.*.eml")).read_bytes()
    store = Store(engine)
    erase(store, "ann@x.org", "*", {"c1": cohort}, str(tmp_path / "data"), [], "dpo", "asked")
    erase(store, "dan@x.org", "c1", {"c1": cohort}, str(tmp_path / "data"), [], "dpo", "asked to leave c1")

    # The suppression list: a one-click link's unsubscribe, a bounce's, the command line's.
    assert store.suppressions.add("ANN@x.org ", "unsubscribed", "one-click link", "c1") is None
    assert store.suppressions.add("ann@x.org", "hard_bounce", "bounce") is None
    assert store.suppressions.add("dan@x.org", "unsubscribed", "one-click link", "c1") is None
    assert store.suppressions.add("dan@x.org", "unsubscribed", "one-click link", "c2") == "dan@x.org"  # c2's still
    assert store.suppressions.add("bob@x.org", "unsubscribed", "one-click link", "c1") == "bob@x.org"
    url = engine.url.render_as_string(hide_password=False)
    out = subprocess.run([sys.executable, "-m", "onboarding.ops.suppress", "--url", url, "add", "ann@x.org"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "nothing stored" in out.stdout, out.stderr

    # The Onboarding page's suppress (what the trigger form's box became), then the next night.
    from onboarding.cohorts import CohortFile
    from onboarding.pipeline import privacy

    found = CohortFile(tmp_path / "cohorts.yaml", {"c1": cohort}, {})
    assert privacy.suppress(store, found, ["ann@x.org", "cat@x.org"], "c1", None, "instructor") == [None, "cat@x.org"]
    ctx = RunContext("night-2", local(2026, 12, 3), False, tmp_path / "data", triggered_by="instructor")
    for stage in (pipeline.extract, pipeline.validate, pipeline.decide):
        stage(store, cohort, ctx)

    # Her bounce and her unsubscribe mail, arriving late: recorded as read, naming nobody.
    inbox = tmp_path / "outbox" / ".inbox"
    inbox.mkdir()
    (inbox / "dsn.eml").write_bytes(dsn(sent, "ann@x.org", "5.1.1"))
    (inbox / "unsub.eml").write_bytes(unsubscribe_mail("Ann <ann@x.org>", "team+unsubscribe@example.edu"))
    email = lambda _conn: (lambda: outbox_factory(tmp_path / "outbox"))  # noqa: E731
    tally = pipeline.read_mailbox(store, [cohort], ctx, email, dt.datetime.now(dt.timezone.utc))
    assert tally.get("ignored") == 2 and not tally.get("unsubscribe") and not tally.get("bounce_hard"), tally
    # The mailbox's own record and the ledger refuse her too, whoever calls them.
    store.mailbox.record("acct", "m-9", dt.datetime.now(dt.timezone.utc), "night-2", kind="unsubscribe",
                         address="ann@x.org", detail="unsubscribe ann@x.org", action="unsubscribed")
    resend = {"email_key": "c1|ann@x.org|reminder|resend|1", "ref": "onb-resend-ann", "cohort_id": "c1",
              "recipient": "ann@x.org", "recipient_name": "Ann", "kind": "reminder", "reason": "asked"}
    assert store.ledger.plan([resend], "night-2") == 0

    with engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT address, cohort_id FROM suppressions WHERE reason <> 'erased'")).all()
        messages = conn.execute(sa.text("SELECT address, detail FROM mailbox_messages")).all()
        everything = "\n".join(" ".join(map(str, r)) for t in sa.inspect(engine).get_table_names()
                               for r in conn.execute(sa.text(f"SELECT * FROM {t}")))  # noqa: S608
    assert sorted(entries) == [("bob@x.org", "c1"), ("cat@x.org", "c1"), ("dan@x.org", "c2")]
    assert len(messages) == 3 and all(m.address is None and "ann@" not in (m.detail or "") for m in messages)
    assert not address_pattern("ann@x.org").search(everything)


def test_restarting_her_emails_lifts_a_manual_stop_only_and_says_who(engine, cohort, tmp_path):
    """The page's "Restart her emails": a manual "do not email" is lifted, audited with who; a
    bounce, a complaint or her own unsubscribe is refused with its reason (never undone silently),
    and a manual stop asked over a bounce does not replace the bounce."""
    from onboarding.cohorts import CohortFile
    from onboarding.errors import ParamsError
    from onboarding.pipeline import privacy

    store = Store(engine)
    found = CohortFile(tmp_path / "cohorts.yaml", {"c1": cohort}, {}, ("c1",))
    with pytest.raises(ParamsError, match="her emails are not stopped"):
        privacy.restart(store, found, "bob@x.org", "c1", None, "ines")
    privacy.suppress(store, found, "bob@x.org", "c1", "asked by phone", "ines")
    assert privacy.restart(store, found, "BOB@x.org", "c1", "she called back", "olga") == {
        "restarted": "bob@x.org", "cohort": "c1", "lifted": ["c1"]}
    assert store.suppressions.of_address("bob@x.org", "c1") == []
    assert [(c["action"], c["changed_by"], c["note"]) for c in store.suppressions.changes("bob@x.org", "c1")] == [
        ("stopped", "ines", "asked by phone"), ("restarted", "olga", "she called back")]
    run_stages(engine, cohort, tmp_path, local(2026, 12, 2))
    assert "bob@x.org" in sent_to(tmp_path, "reminder")  # the next run emails her again

    # A hard bounce: a manual stop on top keeps the bounce, and a restart is refused, naming it.
    store.suppressions.add("dan@x.org", "hard_bounce", "bounce", "*")
    privacy.suppress(store, found, "dan@x.org", "all", "and do not email", "ines")
    assert [s.reason for s in store.suppressions.of_address("dan@x.org", "c1")] == ["hard_bounce"]
    with pytest.raises(ParamsError, match="bounced hard .* ask her for another address"):
        privacy.restart(store, found, "dan@x.org", "all", None, "olga")
    assert [s.reason for s in store.suppressions.of_address("dan@x.org", "c1")] == ["hard_bounce"]
    # Her own unsubscribe is hers; a stop for every cohort is not lifted for one cohort.
    store.suppressions.add("ann@x.org", "unsubscribed", "unsubscribe link", "c1")
    with pytest.raises(ParamsError, match="unsubscribed herself"):
        privacy.restart(store, found, "ann@x.org", "c1", None, "olga")
    privacy.suppress(store, found, "eve@x.org", "all", None, "ines")
    with pytest.raises(ParamsError, match="stopped for every cohort"):
        privacy.restart(store, found, "eve@x.org", "c1", None, "olga")
    store.suppressions.add("@spam.example", "manual", "page", "c1")
    with pytest.raises(ParamsError, match="whole domain"):
        privacy.restart(store, found, "cat@spam.example", "c1", None, "olga")


@pytest.mark.parametrize("entry", ["\u212aelvin@x.org", "@b\u00fccher.example", "ann@x.\u043erg"])
def test_a_suppression_with_a_character_beyond_ascii_is_refused_not_folded(entry):
    """No address emailed has one, so such an entry would stop nobody; lower-cased, the Kelvin sign
    (U+212A) would have stopped kelvin@x.org, someone else."""
    from onboarding.consent import normalise_suppression

    with pytest.raises(ValueError, match="beyond ASCII"):
        normalise_suppression(entry)
    assert normalise_suppression(" Ann@X.org ") == "ann@x.org"
