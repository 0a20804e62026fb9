"""An email's identity is a value and its reference a keyed token (onboarding/identity.py): any
address that passes validation gets exactly the emails the rules decide, whatever it contains,
and nobody without the deployment's secret can name an email."""
from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import csv_cohort, local
from onboarding import pipeline, sqlfiles
from onboarding.addresses import is_plain_address
from onboarding.decisions import Resend
from onboarding.decisions.rules import Customer, decide
from onboarding.delivery.senders import outbox_factory
from onboarding.identity import EmailId, References
from onboarding.run import RunContext
from onboarding.store import Store, db
from onboarding.validation.values import email_problems, normalise_email

# Pieces an attacker (or an unlucky customer) puts in a local part: the old key's separator and
# extras' markers, LIKE's wildcards, a path's separator, a sub-address, quotes, upper case.
TRICKY = ["|resend|", "|retry", "|", "%", "_", "/", "+", "'", "|welcome", "|visit2", "%7C", "Ann", "BOB"]
ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)


@st.composite
def addresses(draw):
    """An address as an export may hold it (any case), normalised as validation does, and only
    if validation accepts it."""
    atoms = draw(st.lists(st.one_of(st.sampled_from(TRICKY), ATOM), min_size=1, max_size=4))
    domain = draw(st.sampled_from(["x.org", "Acme.IO", "mail-1.example"]))
    address = normalise_email(".".join(atoms) + "@" + domain)
    valid = email_problems(pd.Series([address])).iloc[0] is None and is_plain_address(address)
    return address if valid else draw(st.nothing())


def memory_store() -> Store:
    store = Store(db.make_engine("sqlite://"))
    store.migrate()
    return store


def identities(cohort_id: str, address: str, run_id: str) -> list[EmailId]:
    """Every shape of email one customer (or team member) can be sent."""
    welcome = EmailId(cohort_id, address, "welcome")
    form = EmailId.journey(cohort_id, address, "details", "details_form", 2)
    return [welcome, welcome.resend(run_id), welcome.retried(), EmailId(cohort_id, address, "reminder"),
            form, form.resend(run_id), EmailId(cohort_id, address, "digest", per_run_id=run_id)]


@settings(max_examples=30, deadline=None)
@given(st.lists(addresses(), min_size=1, max_size=4, unique=True),
       st.sampled_from(["r1", "manual__2026-12-01T00:00:00+00:00", "a|resend|b", "100%_done"]))
def test_any_valid_address_round_trips_through_the_ledger_and_no_two_emails_share_a_key(found, run_id):
    store, refs = memory_store(), References("identity-tests-secret-" * 2)
    emails = [i for a in found for i in identities("c1", a, run_id)]
    # No two emails share a key or a reference, however the addresses were made to look alike.
    assert len({e.key for e in emails}) == len(emails) == len({refs(e) for e in emails})
    store.ledger.plan([{**e.columns(), "ref": refs(e), "recipient_name": ""} for e in emails], run_id)
    # record -> key -> the row's columns -> the same record, and the row holds its own key.
    rows = store.ledger.states("c1").to_dict("records")
    assert sorted(EmailId.from_row({**r, "cohort_id": "c1"}).key for r in rows) == sorted(e.key for e in emails)
    for e in emails:
        row = store.ledger.of(e)
        assert row["email_key"] == e.key and row["ref"] == refs(e)
        assert store.ledger.by_ref(refs(e))["recipient"] == e.recipient
        assert EmailId.from_row({**store.ledger.get(e.key), "stage": None}) is not None
    for r in rows:
        assert EmailId.from_row({**r, "cohort_id": "c1"}).extra == bool(r["resend_run_id"] or r["retry"])
    # Entering the same emails again changes nothing: one identity, one row.
    assert store.ledger.plan([{**e.columns(), "ref": refs(e), "recipient_name": ""} for e in emails], run_id) == 0


def _write_cohort(folder: Path, people: list[tuple[str, str | None]]) -> None:
    with open(folder / "signups.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Email", "Name", "When"])
        for i, (address, _) in enumerate(people):
            w.writerow([address.upper() if i % 2 else address, f"Person {i}", "2026-11-01T10:00"])
    with open(folder / "completions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_email", "completed_at"])
        for address, done in people:
            if done:
                w.writerow([address, done])


def _night(store: Store, cohort, folder: Path, as_of, run_id: str, resend: Resend | None = None) -> None:
    ctx = RunContext(run_id, as_of, False, folder / "data", resend=resend)
    outbox = lambda: outbox_factory(folder / "outbox")  # noqa: E731
    pipeline.extract(store, cohort, ctx)
    pipeline.validate(store, cohort, ctx)
    pipeline.decide(store, cohort, ctx)
    pipeline.send(store, cohort, ctx, outbox)


def _sent(folder: Path) -> list[tuple[str, str]]:
    """(recipient, kind) of every customer email in the outbox."""
    found = []
    for path in (folder / "outbox" / "c1").glob("*/*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to = msg["To"].addresses[0]
        found.append((f"{to.username}@{to.domain}".lower(), path.parent.name))
    return sorted(found)


def _rules(cohort, as_of, people, ledger) -> list[tuple[str, str]]:
    """What the rules decide is due for each customer, given what each was sent before."""
    due = []
    for address, done in people:
        at = pd.Timestamp(done).tz_convert("UTC").to_pydatetime() if done else None
        mine = {k: "sent" for a, k in ledger if a == address}
        due += [(address, d.kind) for d in decide(Customer(address, "P", at), cohort, as_of, mine)
                if d.outcome == "due"]
    return sorted(due)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(addresses(), min_size=2, max_size=3, unique=True).filter(
    lambda found: not {"ann@x.org", "bob@x.org"} & set(found)))
def test_a_customer_with_any_valid_address_gets_exactly_the_emails_the_rules_decide(found):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Hostile addresses beside ordinary ones: one of each finished on time, the others not.
        people = [("ann@x.org", "2026-11-20T01:00:00Z"), ("bob@x.org", None)] + [
            (a, "2026-11-21T01:00:00Z" if i % 2 else None) for i, a in enumerate(found)]
        _write_cohort(folder, people)
        cohort = csv_cohort(folder)
        engine = db.make_engine(f"sqlite:///{folder / 'state.db'}")
        db.migrate(engine)
        store = Store(engine)

        night1 = local(2026, 12, 2)
        _night(store, cohort, folder, night1, "night-1")
        expected = _rules(cohort, night1, people, [])
        assert _sent(folder) == expected and {a for a, _ in expected} == {a for a, done in people if not done}
        _night(store, cohort, folder, night1, "night-1-again")  # a rerun sends nothing twice
        assert _sent(folder) == expected

        # After the deadline: the cancellations the rules decide, given what went out.
        night2 = local(2026, 12, 5)
        _night(store, cohort, folder, night2, "night-2")
        expected = sorted(expected + _rules(cohort, night2, people, expected))
        assert _sent(folder) == expected and {a for a, _ in expected} == {a for a, _ in people}

        # A resend asked for by hand reaches her as a copy of its own; her original still counts.
        _night(store, cohort, folder, night2, "night-2-resend", Resend(found[0], _kind(expected, found[0]), "lost"))
        assert _sent(folder).count((found[0], _kind(expected, found[0]))) == 2
        engine.dispose()


def _kind(sent: list[tuple[str, str]], address: str) -> str:
    return next(k for a, k in sent if a == address)


def test_a_forged_plain_hash_reference_names_no_email_and_an_old_reference_keeps_working(engine, tmp_path):
    people = [("ann@x.org", None), ("a|resend|b@x.org", None), ("old@x.org", None)]
    _write_cohort(tmp_path, people)
    cohort = csv_cohort(tmp_path)
    store = Store(engine)
    # Planned before references were keyed: its plain-hash reference is stored and stays its own.
    old = EmailId("c1", "old@x.org", "reminder")
    old_ref = "onb-" + hashlib.sha256(old.key.encode()).hexdigest()[:20]
    store.ledger.plan([{**old.columns(), "ref": old_ref, "recipient_name": "Old"}], "before")
    _night(store, cohort, tmp_path, local(2026, 12, 2), "night-1")

    rows = store.ledger.states("c1").to_dict("records")
    assert len(rows) == 3 and all(r["status"] == "sent" for r in rows)
    for address in ("ann@x.org", "a|resend|b@x.org"):
        entry = store.ledger.of(EmailId("c1", address, "reminder"))
        forged = "onb-" + hashlib.sha256(entry["email_key"].encode()).hexdigest()[:20]
        assert entry["ref"] != forged and store.ledger.by_ref(forged) is None
        assert store.ledger.by_ref(entry["ref"])["recipient"] == address
    # The old email went out with its old reference, and a bounce quoting it still finds it.
    assert store.ledger.of(old)["ref"] == old_ref
    assert store.ledger.by_ref(old_ref)["recipient"] == "old@x.org"
    (sent,) = (tmp_path / "outbox" / "c1" / "reminder").glob("old*.eml")
    assert old_ref in sent.read_text(errors="replace")
    # The secret is the deployment's: made once, kept, and the same for the next run.
    assert store.ledger.references() == store.ledger.references()


def test_the_migration_gives_old_rows_their_identity_from_what_they_hold(engine):
    old = [("c1|a|resend|b@x.org|welcome", "a|resend|b@x.org", "welcome"),
           ("c1|a|resend|b@x.org|welcome|resend|r1", "a|resend|b@x.org", "welcome"),
           ("c1|ann@x.org|reminder|retry", "ann@x.org", "reminder"),
           ("c1|ann@x.org|details:details_form|visit2", "ann@x.org", "details:details_form"),
           ("c1|ann@x.org|details:details_form|resend|r2", "ann@x.org", "details:details_form"),
           ("c1|csm@x.org|digest|r1", "csm@x.org", "digest"),
           ("alert|d|r1|send|0|try-1", "team@x.org", "alert")]
    migration = (Path(db.__file__).parents[2] / "include/sql/migrations/0020_email_identity.sql").read_text()
    with engine.begin() as conn:
        # Rows as migration 0020 finds them: the old keys, the new columns at their defaults.
        conn.execute(sa.text("DROP INDEX email_ledger_identity"))
        for i, (key, recipient, kind) in enumerate(old):
            conn.execute(sa.text(
                "INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, status, "
                "decided_run_id, attempts, created_at, updated_at) VALUES (:k, :ref, 'c1', :r, '', :kind, 'sent', "
                "'r1', 1, 'x', 'x')"), {"k": key, "ref": f"onb-{i:020d}", "r": recipient, "kind": kind})
        conn.execute(sa.text("INSERT INTO decisions (run_id, cohort_id, email, kind, outcome, reason, email_key) "
                             "VALUES ('r1', 'c1', :r, 'welcome', 'due', 'x', :k)"), {"r": old[1][1], "k": old[1][0]})
        for stmt in sqlfiles.statements(migration):  # its backfill, and its index
            if stmt.lstrip().startswith(("UPDATE", "CREATE UNIQUE INDEX")):
                conn.exec_driver_sql(stmt)
    store = Store(engine)
    got = {r["email_key"]: EmailId.from_row({**r, "cohort_id": "c1"}) for r in store.ledger.states("c1").to_dict("records")}
    welcome, form = EmailId("c1", "a|resend|b@x.org", "welcome"), EmailId.journey("c1", "ann@x.org", "details",
                                                                               "details_form")
    assert got == {old[0][0]: welcome, old[1][0]: welcome.resend("r1"),
                   old[2][0]: EmailId("c1", "ann@x.org", "reminder").retried(),
                   old[3][0]: EmailId.journey("c1", "ann@x.org", "details", "details_form", 2),
                   old[4][0]: form.resend("r2"),
                   old[5][0]: EmailId("c1", "csm@x.org", "digest", per_run_id="r1"),
                   old[6][0]: EmailId("c1", "team@x.org", "alert", per_run_id="legacy:" + old[6][0])}
    # Her original is hers, not mistaken for a resend; an old row keeps its key and reference.
    assert store.ledger.of(welcome) == {"email_key": old[0][0], "ref": "onb-00000000000000000000", "status": "sent"}
    assert not welcome.extra and welcome.resend("r1").extra
    with engine.connect() as conn:
        decided = conn.execute(sa.text("SELECT resend_run_id FROM decisions WHERE run_id = 'r1'")).scalar()
    assert decided == "r1"
    # The sqlite and the postgresql schema alike: one migration for both.
    assert [p.name for _, p in db.migrations(engine.dialect.name) if _ == "0020"] == ["0020_email_identity.sql"]


def test_a_reference_secret_is_never_shown_and_must_be_long():
    refs = References("k" * 40)
    assert "k" * 40 not in repr(refs)
    with pytest.raises(ValueError):
        References("short")
    with pytest.raises(ValueError):
        EmailId("c1", "a@x.org", "details:form")  # a journey kind belongs to its stage
