"""Erasure: a person forgotten on request leaves no trace of their address or name in the state
database, the run folders (snapshots, reports, validation results, Data Docs, previews) or the
outbox; only a salted hash stays, which keeps a later export from bringing them back; replay
still checks every other customer's decisions; someone with a similar address is untouched."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from helpers import csv_cohort, local, run_stages, world_clock
from mailbox_messages import dsn
from onboarding import pipeline
from onboarding.delivery.senders import outbox_factory
from onboarding.errors import ParamsError
from onboarding.ops.replay import replay
from onboarding.pipeline.erasure import address_pattern, erase
from onboarding.run import RunContext, RunParams
from onboarding.store import Store

VICTIM, NAME = "ann@x.org", "Ann Victim"
TOKEN = address_pattern(VICTIM)


@pytest.fixture
def cohort(tmp_path):
    (tmp_path / "signups.csv").write_text(
        "Email,Name,When\n"
        f"{VICTIM},{NAME},2026-11-01T10:00\n"
        "joann@x.org,Joann Keep,2026-11-01T10:00\n"  # an address that contains hers: untouched
        "bob@x.org,Bob Keep,2026-11-01T10:00\n"
        "cat@x.org,Cat Keep,2026-11-01T10:00\n"
        f"{VICTIM.upper()},{NAME},2026-11-02T10:00\n"  # the same person again, as an export repeats
        "not-an-address,Dan Keep,2026-11-01T10:00\n")  # quarantined
    (tmp_path / "completions.csv").write_text(
        "user_email,completed_at\ncat@x.org,2026-11-20T10:00:00Z\n"
        f"{VICTIM},2026-13-45T99:00:00Z\n")  # her unreadable completion: quarantined, she is held
    return csv_cohort(tmp_path)


def _nights(engine, cohort, tmp_path):
    """Three nights: a dry run (previews), the reminder night, then after the deadline; and a
    bounce of her reminder read from the outbox's inbox."""
    run_stages(engine, cohort, tmp_path, local(2026, 12, 1), run_id="night-0", dry_run=True)
    # Hold released: her unreadable completion holds her; make it readable for the later nights.
    (tmp_path / "completions.csv").write_text("user_email,completed_at\ncat@x.org,2026-11-20T10:00:00Z\n")
    run_stages(engine, cohort, tmp_path, local(2026, 12, 2), run_id="night-1")
    sent = next((tmp_path / "outbox" / "c1" / "reminder").glob(f"{VICTIM}.*.eml")).read_bytes()
    (tmp_path / "outbox" / ".inbox").mkdir()
    (tmp_path / "outbox" / ".inbox" / "dsn-1.eml").write_bytes(dsn(sent, VICTIM, "4.2.2"))
    store = Store(engine)
    email = lambda _conn: (lambda: outbox_factory(tmp_path / "outbox"))  # noqa: E731
    import datetime as dt

    pipeline.read_mailbox(store, [cohort], RunContext("night-2", local(2026, 12, 5), False, tmp_path / "data"), email,
                          dt.datetime.now(dt.timezone.utc))
    with world_clock("2026-12-05T07:00:00+11:00"):
        run_stages(engine, cohort, tmp_path, local(2026, 12, 5), run_id="night-2")


def _database_text(engine) -> str:
    """Every value of every table, as text."""
    out = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):  # noqa: S608 - our own table names
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def _files_text(*folders) -> str:
    """Every file under the folders, as text (emails decoded: encodings would hide an address)."""
    from onboarding.pipeline.erasure import _email_text

    out = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                out.append(_email_text(data) if path.suffix == ".eml" else data.decode("utf-8", "replace"))
    return "\n".join(out)


def test_erasure_leaves_no_trace_and_replay_still_works(engine, cohort, tmp_path):
    _nights(engine, cohort, tmp_path)
    data, outbox = tmp_path / "data", tmp_path / "outbox"
    before_db, before_files = _database_text(engine), _files_text(data, outbox)
    assert TOKEN.search(before_db) and NAME in before_db and TOKEN.search(before_files)  # she was everywhere

    store = Store(engine)
    # Her journey rows too (stage visits, an approval with its author).
    store.journeys.replace_visits("night-2", "c1", [{"email": VICTIM, "stage": "onboarding", "visit": 1,
                                                     "entered_at": None, "due_at": None, "completed_at": None,
                                                     "score": None, "outcome": "missed", "decided_at": None,
                                                     "decided_by": None}])
    store.journeys.record_approvals("c1", [{"email": VICTIM, "stage": "details", "decision": "rejected",
                                            "decided_at": "2026-12-03T01:00:00.000000Z", "decided_by": "boss",
                                            "reason": f"{NAME} gave no company name"}])
    result = erase(store, " Ann@X.org ", "*", {"c1": cohort}, str(data), [str(outbox)], "dpo", "asked by email #4711")
    assert result["rows"]["journey_visits"] == 1 and result["rows"]["approvals"] == 1
    assert result["hash"].startswith("sha256:") and result["snapshots_rewritten"] >= 3
    assert result["rows"]["signups"] == 6 and result["rows"]["email_ledger"] == 2  # 2 rows a night, 3 nights; reminder, cancellation
    assert result["outbox_emails_deleted"] >= 2  # her reminder and the bounce about it

    after_db, after_files = _database_text(engine), _files_text(data, outbox)
    for text, where in ((after_db, "state database"), (after_files, "run folders and outbox")):
        assert not TOKEN.search(text), where
        assert NAME not in text and NAME.lower() not in text.lower(), where
    assert "joann@x.org" in after_db and "Joann Keep" in after_files  # the similar address stays
    summary = (data / "c1" / "night-2" / "summary.txt").read_text()
    assert "Bob Keep <bob@x.org>" in summary  # the reports stay, without her lines
    with engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT address_hash, scope, requested_by, reason, counts FROM erasures")).one()
        entries = conn.execute(sa.text("SELECT address, reason FROM suppressions")).all()
    assert audit.address_hash == result["hash"] and audit.scope == "*" and audit.reason == "asked by email #4711"
    assert entries == [(result["hash"], "erased")]
    manifest = json.loads((data / "c1" / "night-1" / "inputs" / "signups.json").read_text())
    assert manifest["rewritten"][0]["rows_removed"] == 2 and manifest["rewritten"][0]["erasure"] == result["erasure_id"]

    # Replay still checks every run, for everyone else.
    for run_id in ("night-1", "night-2"):
        assert replay(store, cohort, run_id) == [], run_id

    # The next night's export still names her: the copy leaves her out, and she gets nothing.
    with world_clock("2026-12-06T07:00:00+11:00"):
        ctx, _ = run_stages(engine, cohort, tmp_path, local(2026, 12, 6), run_id="night-3")
    snap = json.loads((ctx.folder("c1") / "inputs" / "signups.json").read_text())
    assert snap["rewritten"][0]["erasure"] == "earlier erasures" and snap["rewritten"][0]["rows_removed"] == 2
    assert Store(engine).runs.counts("night-3", "c1")["erased_rows_left_out"] == 2
    assert not TOKEN.search(_database_text(engine)) and not TOKEN.search(_files_text(data, outbox))
    assert replay(store, cohort, "night-3") == []


def test_erasure_from_one_cohort_leaves_the_others(engine, cohort, tmp_path):
    other = dataclasses.replace(cohort, id="c2")
    run_stages(engine, cohort, tmp_path, local(2026, 12, 2), run_id="night-1")
    run_stages(engine, other, tmp_path, local(2026, 12, 2), run_id="night-1")
    result = erase(Store(engine), VICTIM, "c1", {"c1": cohort, "c2": other}, str(tmp_path / "data"),
                   [str(tmp_path / "outbox")], "dpo", "asked to leave course 1")
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT DISTINCT cohort_id FROM signups WHERE email = :e"), {"e": VICTIM}).scalars()
        scopes = conn.execute(sa.text("SELECT cohort_id FROM suppressions")).scalars().all()
        assert sorted(left) == ["c2"] and scopes == ["c1"]
    assert TOKEN.search(_files_text(tmp_path / "data" / "c2")) and not TOKEN.search(_files_text(tmp_path / "data" / "c1"))
    assert result["scope"] == "c1"


def test_what_erasure_refuses():
    with pytest.raises(ValueError, match="not an email address"):
        erase(None, "@x.org", "*", {}, "", [], None, None)
    # The trigger form takes no addresses (Airflow would keep them): erasing is the Onboarding page's.
    with pytest.raises(ParamsError, match="erase: the trigger form takes no addresses"):
        RunParams.parse({"erase": "a@x.org", "erase_reason": "asked by phone"})


def test_the_command_line_erases_and_prints_only_the_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("ONBOARDING_DATA_DIR", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    out = subprocess.run([sys.executable, "-m", "onboarding.ops.erase", VICTIM, "--reason", "asked by letter",
                          "--url", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout[out.stdout.index("\n{") + 1:])  # after the log line
    assert printed["hash"].startswith("sha256:") and VICTIM not in out.stdout
    bad = subprocess.run([sys.executable, "-m", "onboarding.ops.erase", "@x.org", "--reason", "x", "--url", url],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not an email address" in bad.stderr


def test_the_token_never_matches_a_longer_address():
    # Every character an address may hold before hers makes it someone else's (o'ann@x.org too).
    for other in ("joann@x.org", "ann@x.org.au", "ann@x.orgs", "xann@x.org", "ann.b@x.org", "jo!ann@x.org",
                  "o'ann@x.org", "a%ann@x.org", "a_ann@x.org", "a+ann@x.org", "{ann@x.org", "~ann@x.org"):
        assert not TOKEN.search(other), other
    for same in ("ann@x.org", "Ann <ANN@X.ORG>", "to ann@x.org.", '"ann@x.org",', "'ann@x.org'", "to=ann@x.org",
                 "https://forms.example/?email=ann@x.org&x=1"):
        assert TOKEN.search(same), same
    assert re.sub(TOKEN, "[erased]", "mail ann@x.org and joann@x.org") == "mail [erased] and joann@x.org"


def test_erasure_rewrites_the_instructors_sheet(engine, cohort, tmp_path, fake_google, monkeypatch):
    from onboarding.resources import Resources

    fake_google.add_spreadsheet("1InstructorSheetKey", {"My notes": [["keep me"]]})
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_GOOGLE", json.dumps({"conn_type": "generic",
                                                                     "extra": fake_google.google_extra()}))
    with_sheet = dataclasses.replace(cohort, instructor_sheet={"spreadsheet": "1InstructorSheetKey",
                                                               "connection": "onboarding_google"})
    (tmp_path / "completions.csv").write_text("user_email,completed_at\ncat@x.org,2026-11-20T10:00:00Z\n")
    run_stages(engine, with_sheet, tmp_path, local(2026, 12, 2), sheets=Resources().sheet_writer)

    def sheet_text():
        return json.dumps({t: fake_google.sheet_values("1InstructorSheetKey", f"c1 {t}") for t in ("status", "emails")})

    assert TOKEN.search(sheet_text()) and NAME in sheet_text()
    result = erase(Store(engine), VICTIM, "*", {"c1": with_sheet}, str(tmp_path / "data"), [], "dpo", "asked by phone",
                   Resources().sheet_writer)
    assert result["sheets_rewritten"] == 1
    assert not TOKEN.search(sheet_text()) and NAME not in sheet_text() and "bob@x.org" in sheet_text()
    assert fake_google.sheet_values("1InstructorSheetKey", "My notes") == [["keep me"]]


# --- exact matching (issue 21, point 6) --------------------------------------------------------------
TEAM = [f"p{i:02d}.lee@acme.io" for i in range(11)] + ["elif.hughes.29@acme.io"]


@pytest.fixture
def acme(tmp_path):
    """Twelve customers at acme.io, all waiting on one approval request (and Elif alone on another,
    made before requests kept their people in rows: its body holds her line)."""
    (tmp_path / "signups.csv").write_text("Email,Name,When\n" + "".join(
        f"{e},{'Elif Hughes' if e.startswith('elif') else 'Person ' + e[1:3]},2026-11-01T10:00\n" for e in TEAM))
    (tmp_path / "completions.csv").write_text("user_email,completed_at\np00.lee@acme.io,2026-11-20T10:00:00Z\n")
    return csv_cohort(tmp_path)


def _requests(store):
    lines = [f"| Name &lt;{e}&gt; | Tue 01 Dec 12:00 |  |  |" for e in TEAM]
    store.journeys.replace_requests("night-1", "c1", [
        {"stage": "details", "approver": "instructor", "subject": "c1: approve details (12 waiting)",
         "body": "12 customer(s) wait.\n\n| customer | submitted | score | evidence |\n|---|---|---|---|",
         "options": [f"Name <{e}>" for e in TEAM], "people": TEAM, "lines": lines},
        {"stage": "team", "approver": "instructor", "subject": "c1: approve team (1 waiting)",
         "body": "1 customer(s) wait.\n\n| customer |\n|---|\n" + lines[-1], "options": [f"Name <{TEAM[-1]}>"],
         "people": TEAM[-1:]}])
    return lines


def _kept(engine) -> str:
    """The database as text, but for what an erasure adds (its audit record, its hash, the salt)."""
    text = []
    with engine.connect() as conn:
        for table in sorted(sa.inspect(engine).get_table_names()):
            if table not in ("erasures", "suppressions", "privacy_salt"):
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()  # noqa: S608 - our own table names
                text.append(table + ": " + "\n".join(sorted(" ".join(map(str, r)) for r in rows)))
    return "\n".join(text)


def test_erasing_a_pattern_or_a_stranger_erases_nobody_else(engine, acme, tmp_path):
    run_stages(engine, acme, tmp_path, local(2026, 12, 2), run_id="night-1")
    store = Store(engine)
    _requests(store)
    data, outbox = tmp_path / "data", tmp_path / "outbox"
    db_before, files_before = _kept(engine), _files_text(data, outbox)
    # '%' and '_' are legal in an address: each of these is somebody else (or nobody), never a pattern.
    for stranger in ("%@acme.io", "elif_hughes.29@acme.io", "_lif.hughes.29@acme.io", "elif.hughes.2_@acme.io",
                     "%.lee@acme.io", "p__.lee@acme.io", "elif.hughes.29@acme.i_", "hughes.29@acme.io",
                     "29@acme.io", "%@%.io"):
        result = erase(store, stranger, "*", {"c1": acme}, str(data), [str(outbox)], "dpo", "asked")
        assert result["rows"] == {}, stranger
        assert (result["snapshots_rewritten"], result["report_files_rewritten"], result["files_deleted"],
                result["outbox_emails_deleted"]) == (0, 0, 0, 0), stranger
    assert _kept(engine) == db_before and _files_text(data, outbox) == files_before
    assert [len(r["people"]) for r in store.journeys.requests("night-1")] == [12, 1]


def test_erasing_one_of_twelve_on_a_request_leaves_the_request_and_the_eleven(engine, acme, tmp_path):
    run_stages(engine, acme, tmp_path, local(2026, 12, 2), run_id="night-1")
    store = Store(engine)
    lines = _requests(store)
    gone = TEAM[3]
    result = erase(store, gone, "*", {"c1": acme}, str(tmp_path / "data"), [str(tmp_path / "outbox")], "dpo", "asked")
    assert result["rows"]["approval_request_people"] == 1 and "approval_requests" not in result["rows"]
    details, team = store.journeys.requests("night-1")
    assert details["people"] == TEAM[:3] + TEAM[4:] and details["options"] == [f"Name <{e}>" for e in details["people"]]
    assert details["body"].splitlines()[-11:] == lines[:3] + lines[4:] and gone not in details["body"]
    assert details["subject"] == "c1: approve details (12 waiting)" and team["people"] == TEAM[-1:]

    # Elif, on both: her row goes from each; the request made before rows (its body held her line) loses that line.
    erase(store, TEAM[-1], "*", {"c1": acme}, str(tmp_path / "data"), [str(tmp_path / "outbox")], "dpo", "asked")
    details, team = store.journeys.requests("night-1")
    assert len(details["people"]) == 10 and team["people"] == [] and team["options"] == []
    assert team["body"] == "1 customer(s) wait.\n\n| customer |\n|---|\n" and "Hughes" not in _database_text(engine)
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT DISTINCT email FROM signups")).scalars().all()
    assert sorted(left) == sorted(TEAM[:3] + TEAM[4:-1])


def test_erasure_deletes_only_her_own_outbox_files(tmp_path):
    from onboarding.pipeline.erasure import _erase_outbox

    folder = tmp_path / "outbox" / "c1" / "reminder"
    folder.mkdir(parents=True)
    (folder / f"{VICTIM}.onb-1.eml").write_text(f"To: {VICTIM}\r\n\r\nhi\r\n")
    (folder / f"{VICTIM}.au.onb-2.eml").write_text(f"To: {VICTIM}.au\r\n\r\nhi\r\n")  # ann@x.org.au: someone else
    (folder / "jo!ann@x.org.onb-3.eml").write_text("To: jo!ann@x.org\r\n\r\nhi\r\n")
    assert _erase_outbox(str(tmp_path / "outbox"), "*", VICTIM, TOKEN) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["ann@x.org.au.onb-2.eml", "jo!ann@x.org.onb-3.eml"]


# --- the reason (issue 21, point 8) ------------------------------------------------------------------
def test_the_reason_is_kept_without_addresses_or_her_names(engine, cohort, tmp_path):
    run_stages(engine, cohort, tmp_path, local(2026, 12, 2), run_id="night-1")
    reason = (f"Request from {NAME} <{VICTIM}> (cc her lawyer, bob.lawyer@firm.example): ANN VICTIM asked twice; "
              "ticket #4711, Victim's letter of 2 Dec")
    erase(Store(engine), VICTIM, "*", {"c1": cohort}, str(tmp_path / "data"), [], "dpo", reason)
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT reason FROM erasures")).scalar_one()
    assert kept == ("Request from [name] <[address]> (cc her lawyer, [address]): [name] asked twice; "
                    "ticket #4711, [name]'s letter of 2 Dec")
    assert "@" not in kept and "ann" not in kept.lower()
