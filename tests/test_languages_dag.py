"""Customers written to in their language through the real pipeline (issue 25): the journey
sample's German accounts get German emails on a night of the nightly DAG (``dag.test()``), the
English ones English, a French one (no French variant) and hostile language values English; the
ledger records each email's language. Second shape: a course cohort of the seed journey with a
language column and a template folder of its own overriding one email, through every stage."""
from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import yaml

from helpers import world_clock
from onboarding.languages import normalise_language

ROOT = Path(__file__).resolve().parents[1]
COHORT = "saas-2026-11"
# English accounts of the sample given other language values: a French one (no variant: English),
# German ones written otherwise, and hostile values (no language: English).
CHANGED = ["fr", " DE ", "de-AT", "../de", "de/../../etc", "<b>de</b>", "=HYPERLINK(\"de\")"]


def _sample(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The journey sample's cohort file and exports in ``tmp_path``, a few English accounts'
    language changed (``CHANGED``); and every account's language as written."""
    data = tmp_path / "sample"
    shutil.copytree(ROOT / "sample_data" / COHORT, data)
    with open(data / "signups.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    english = [r for r in rows if r["Language"] == "en"]
    for r, value in zip(english, CHANGED):
        r["Language"] = value
    with open(data / "signups.csv", "w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    doc = yaml.safe_load((ROOT / "config" / "journey-cohorts.yaml").read_text())
    doc["journeys"] = str(ROOT / "config" / "journeys.yaml")
    doc["source_roots"] = []
    for source in doc["cohorts"][0]["sources"].values():
        source["path"] = str(data / Path(source["path"]).name)
    path = tmp_path / "cohorts.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path, {r["Email"].strip().lower(): r["Language"] for r in rows}


@pytest.mark.dagrun
def test_the_journey_samples_german_accounts_get_german_emails_through_the_dag(airflow_db, airflow_env, fake_google,
                                                                               monkeypatch, tmp_path):
    path, language = _sample(tmp_path)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(path))
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    moment = dt.datetime(2026, 11, 28, 6, tzinfo=ZoneInfo("Australia/Sydney"))
    conf = {"cohort": "all", "as_of": None, "dry_run": False, "release_guards": None,
            "kinds": ["reminder", "cancellation", "welcome", "stage"], "resend": False, "resend_request": None}
    with world_clock(moment.isoformat()):
        dr = dag.test(logical_date=moment, run_after=moment, run_conf=conf)
    assert str(getattr(dr.state, "value", dr.state)) == "success"

    customers = [m for m in fake_google.sent.values() if m["to"].rsplit("<", 1)[-1].rstrip(">") in language]
    assert customers
    german = english = 0
    for m in customers:
        to = m["to"].rsplit("<", 1)[1].rstrip(">")
        raw = email.message_from_bytes(m["raw"], policy=email.policy.default)
        html = raw.get_body(("html",)).get_content()
        if normalise_language(language[to]) == "de":
            german += 1
            assert m["text"].startswith("Hallo ") and "Referenz onb-" in m["text"], (language[to], m["subject"])
            assert '<html lang="de">' in html
            assert not any(w in m["text"] for w in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                     "Saturday", "Sunday", "December"))
        else:
            english += 1
            assert m["text"].startswith("Hi ") and "reference onb-" in m["text"], (language[to], m["subject"])
            assert '<html lang="en">' in html and "Uhr" not in m["text"]
    # Every German account that was written to was written to in German (30 in the sample, 2 more here).
    germans = {e for e, v in language.items() if normalise_language(v) == "de"}
    written = {m["to"].rsplit("<", 1)[1].rstrip(">") for m in customers}
    assert len(germans) == 32 and germans & written and german and english

    # The ledger records the language each email was entered in: a retry or a resend reads it.
    from onboarding.resources import Resources

    with Resources().store().engine.connect() as conn:
        ledger = [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT recipient, language FROM email_ledger WHERE cohort_id = :c AND kind NOT IN ('summary', 'digest')"
            " AND kind NOT LIKE 'team_digest%'"),
            {"c": COHORT})]
        status = dict(conn.execute(sa.text("SELECT email, language FROM customer_status WHERE cohort_id = :c"),
                                   {"c": COHORT}).all())
    assert ledger and all(r["language"] == normalise_language(language[r["recipient"]]) for r in ledger)
    assert {r["language"] for r in ledger} >= {"de", "en"}
    # Each customer's language as the run read it: fr kept (a French variant may come later), a hostile value none.
    assert status and all(v == normalise_language(language[e]) for e, v in status.items())
    assert set(status.values()) == {"de", "en", "fr", None}


def test_a_course_cohort_with_a_language_column_and_a_template_folder_through_every_stage(engine, tmp_path):
    """The seed journey's course cohort, a language column and a template folder overriding the
    German welcome only: Ann (de-DE) gets the folder's welcome, Ben (DE) the built-in German
    reminder, Cleo (fr) and Dan (a path) the English reminder."""
    from helpers import local, run_stages
    from onboarding.cohorts import load_cohorts

    (tmp_path / "signups.csv").write_text(
        "Email,Name,When,Language\nann@x.org,Ann,2026-11-01 10:00,de-DE\nben@x.org,Ben,2026-11-01 10:00, DE \n"
        "cleo@x.org,Cleo,2026-11-01 10:00,fr\ndan@x.org,Dan,2026-11-01 10:00,../../etc/passwd\n")
    (tmp_path / "completions.csv").write_text("Email,Done\nann@x.org,2026-12-01 09:00\n")
    welcome = tmp_path / "my-templates" / "journeys" / "seed" / "onboarding" / "welcome" / "de"
    welcome.mkdir(parents=True)
    (welcome / "subject.txt").write_text("Herzlich willkommen bei {{ cohort.title }}, {{ greeting_name }}\n")
    (welcome / "body.txt").write_text("Guten Tag {{ greeting_name }}, bis {{ deadline_date }}. {{ ref }}\n")
    (welcome / "body.html").write_text('{% extends "_layout.html" %}{% block content %}<p>Guten Tag</p>{% endblock %}')
    (tmp_path / "cohorts.yaml").write_text(yaml.safe_dump({"templates": "my-templates", "cohorts": [{
        "id": "kurs", "title": "Kurs Dezember", "deadline": "2026-12-04", "timezone": "Europe/Berlin",
        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu", "welcome_timing": "on_completion",
        "guards": {"max_source_age": None, "max_cancel_share": None, "max_completion_shrink": None},
        "sources": {"signups": {"path": "signups.csv", "columns": {"email": "Email", "name": "Name",
                                                                   "signed_up_at": "When", "language": "Language"}},
                    "completions": {"path": "completions.csv", "columns": {"email": "Email", "completed_at": "Done"}}}}]}))
    cohort = load_cohorts(tmp_path / "cohorts.yaml")["kurs"]
    run_stages(engine, cohort, tmp_path, local(2026, 12, 2, tz="Europe/Berlin"))
    mails = {}
    for p in (tmp_path / "outbox").rglob("*.eml"):
        msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        mails[(msg["To"].addresses[0].addr_spec, p.parent.name)] = msg
    assert set(mails) - {("boss@example.edu", "summary")} == {("ann@x.org", "welcome"), ("ben@x.org", "reminder"), ("cleo@x.org", "reminder"),
                          ("dan@x.org", "reminder")}
    ann = mails[("ann@x.org", "welcome")]
    assert ann["Subject"] == "Herzlich willkommen bei Kurs Dezember, Ann"
    assert "bis 4. Dezember 2026" in ann.get_body(("plain",)).get_content()
    ben = mails[("ben@x.org", "reminder")]
    assert ben["Subject"] == "Erinnerung: Schließen Sie Ihr Onboarding für Kurs Dezember bis zum 4. Dezember 2026 ab"
    assert "Freitag, 4. Dezember 2026, 23:59 Uhr (Europe/Berlin)" in ben.get_body(("plain",)).get_content()
    for who in ("cleo@x.org", "dan@x.org"):
        msg = mails[(who, "reminder")]
        assert msg["Subject"] == "Reminder: finish your onboarding for Kurs Dezember by 04 December 2026"
        assert msg.get_body(("plain",)).get_content().startswith("Hi ")
    with engine.connect() as conn:
        recorded = dict(conn.execute(sa.text("SELECT recipient, language FROM email_ledger WHERE cohort_id = 'kurs' "
                                                "AND kind != 'summary'")).all())
    assert recorded == {"ann@x.org": "de", "ben@x.org": "de", "cleo@x.org": "fr", "dan@x.org": None}
    # The instructor's resend of Ben's reminder is entered in the language his reminder was.
    from onboarding.identity import EmailId
    from onboarding.store import Store

    store = Store(engine)
    resend = EmailId("kurs", "ben@x.org", "reminder", resend_run_id="night-2")
    row = store.ledger.plan_one(resend, "night-2", store.ledger.references(), "Ben")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT language FROM email_ledger WHERE email_key = :k"),
                            {"k": row["email_key"]}).scalar() == "de"
