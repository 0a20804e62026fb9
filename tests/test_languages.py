"""Customers written to in their language (issue 25): the language attribute's normalisation, the
variant lookup and its fallback, a cohort file's own template folder checked at load, and
``journeys check --languages``; the attacker's pass on every new value."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from helpers import make_cohort
from onboarding.cohorts import read_cohort_file, read_yaml
from onboarding.delivery.messages import stage_email
from onboarding.errors import ConfigError
from onboarding.journeys import SEED, journeys_from
from onboarding.languages import customer_language, long_datetime, normalise_language, strftime
from onboarding.templates import choose_template, missing_variants

ROOT = Path(__file__).resolve().parents[1]
SAAS = journeys_from(read_yaml(ROOT / "config" / "journeys.yaml"), ROOT / "config" / "journeys.yaml")["saas-onboarding"]


@pytest.mark.parametrize("value", ["de", "DE", "de-DE", " de ", "de_AT", "De-Latn-DE"])
def test_a_language_is_normalised_to_its_plain_tag(value):
    assert normalise_language(value) == "de"


@pytest.mark.parametrize("value", ["", "   ", "../x", "de/../../etc", "de/..", "..", "<b>de</b>", "de\n", "de\x00",
                                   "d", "deutsch", "=?utf-8?b?ZGU=?=", "=HYPERLINK(\"x\")", "de-" + "x" * 40,
                                   "de\r\nBcc: a@b.c", None, 7, ["de"]])
def test_anything_but_a_language_tag_is_no_language(value):
    assert normalise_language(value) is None


@given(st.text(max_size=60))
def test_a_normalised_language_is_always_two_or_three_lower_case_letters(value):
    lang = normalise_language(value)
    assert lang is None or (lang.isascii() and lang.isalpha() and lang.islower() and 2 <= len(lang) <= 3)


def test_a_customers_language_comes_from_their_attributes_as_stored():
    assert customer_language('{"language": "de-DE"}') == "de"
    assert customer_language('{"language": "../etc"}') is None
    assert customer_language("not json") is None and customer_language(None) is None


def test_dates_in_german_and_english_as_always():
    when = dt.datetime(2026, 3, 2, 9, 5)
    assert long_datetime(when, "en") == f"{when:%A %d %B %Y, %H:%M}" == "Monday 02 March 2026, 09:05"
    assert long_datetime(when, "de") == "Montag, 2. März 2026, 09:05 Uhr"
    assert long_datetime(when, "xx") == long_datetime(when, "en")  # a language without names: English
    assert strftime(when, "%a %d %b %Y %H:%M", "de") == "Mo. 02 März 2026 09:05"
    assert strftime(when, "%a %d %b %Y", "en") == when.strftime("%a %d %b %Y")


def _parsed(msg):
    parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    return parsed, parsed.get_body(("plain",)).get_content(), parsed.get_body(("html",)).get_content()


@pytest.mark.parametrize("language", ["de", "DE", "de-DE", " de "])
def test_every_email_of_the_sample_has_a_german_variant_with_german_dates(language):
    cohort = make_cohort(course_url="https://app.example.com/start", journey="saas-onboarding", journey_spec=SAAS)
    due = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.timezone.utc)
    for stage, kind in SAAS.email_kinds():
        assert choose_template(SAAS.id, stage, kind, language).language == "de", (stage.id, kind)
        msg = stage_email(cohort, SAAS, stage, kind, "ann@x.org", "Ann <b>Lee</b>", "onb-0123456789abcdef0123",
                          due=due, language=language)
        parsed, text, html = _parsed(msg)
        assert text.startswith("Hallo Ann <b>Lee</b>,") and "Referenz onb-0123456789abcdef0123" in text
        assert '<html lang="de">' in html and "&lt;b&gt;Lee&lt;/b&gt;" in html
        assert "Hi " not in text and "December" not in text
        if kind.startswith("reminder") or (stage.due and kind in stage.emails_on_enter):
            assert "Freitag, 4. Dezember 2026, 21:00 Uhr (Australia/Sydney)" in text, (stage.id, kind)
    assert missing_variants(SAAS, "de") == []


@pytest.mark.parametrize("language", ["fr", "../x", "de/../../etc", "<script>de</script>", "de\r\nBcc: x@y.z", ""])
def test_an_unknown_or_hostile_language_gets_the_english_email(language):
    cohort = make_cohort(journey="saas-onboarding", journey_spec=SAAS)
    stage = SAAS.stage("verification")
    msg = stage_email(cohort, SAAS, stage, "reminder_1", "ann@x.org", "Ann", "onb-0123456789abcdef0123",
                      due=dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.timezone.utc), language=language)
    parsed, text, _ = _parsed(msg)
    assert parsed["Subject"] == "Reminder: Verify your email address by Friday 04 December 2026, 21:00 (Australia/Sydney)"
    assert text.startswith("Hi Ann,") and parsed["To"] == "Ann <ann@x.org>" and parsed["Bcc"] is None


def test_the_seed_journey_speaks_german_too():
    cohort = make_cohort(next_steps=("Kick-off am Montag",))
    stage = SEED.stages[0]
    parsed, text, _ = _parsed(stage_email(cohort, SEED, stage, "reminder", "ann@x.org", "Ann", "onb-0123456789abcdef0123",
                                          language="de"))
    assert parsed["Subject"] == "Erinnerung: Schließen Sie Ihr Onboarding für Test Cohort bis zum 4. Dezember 2026 ab"
    assert "Freitag, 4. Dezember 2026, 23:59 Uhr (Australia/Sydney)" in text


# A cohort file with a template folder of its own ------------------------------------------------

def _cohort_file(tmp_path: Path, templates: str | None = "my-templates") -> Path:
    (tmp_path / "signups.csv").write_text("Email,Name,Language\nann@x.org,Ann,de\n")
    (tmp_path / "completions.csv").write_text("Email,Done\n")
    doc = {"cohorts": [{"id": "c1", "title": "Kurs", "deadline": "2026-12-04", "timezone": "Europe/Berlin",
                        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu", "locale": "de-DE",
                        "sources": {"signups": {"path": "signups.csv",
                                                "columns": {"email": "Email", "name": "Name", "language": "Language"}},
                                    "completions": {"path": "completions.csv",
                                                    "columns": {"email": "Email", "completed_at": "Done"}}}}]}
    if templates is not None:
        doc["templates"] = templates
    path = tmp_path / "cohorts.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


WELCOME = "journeys/seed/onboarding/welcome/de/"


def test_a_template_folder_overrides_one_email_and_the_rest_fall_back(tmp_path):
    _write(tmp_path / "my-templates", {WELCOME + "subject.txt": "Servus in {{ cohort.title }}\n",
                                       WELCOME + "body.txt": "Servus {{ greeting_name }}! {{ ref }}\n",
                                       WELCOME + "body.html": '{% extends "_layout.html" %}{% block content %}Servus{% endblock %}'})
    found = read_cohort_file(_cohort_file(tmp_path))
    assert not found.broken, found.broken
    cohort = found.cohorts["c1"]
    assert cohort.signups.attributes == ("language",) and cohort.locale == "de-DE"
    stage = SEED.stages[0]
    welcome, _, _ = _parsed(stage_email(cohort, SEED, stage, "welcome", "ann@x.org", "Ann", "onb-0123456789abcdef0123",
                                        language="de"))
    reminder, _, _ = _parsed(stage_email(cohort, SEED, stage, "reminder", "ann@x.org", "Ann", "onb-0123456789abcdef0123",
                                         language="de"))
    english, _, _ = _parsed(stage_email(cohort, SEED, stage, "welcome", "ann@x.org", "Ann", "onb-0123456789abcdef0123"))
    assert welcome["Subject"] == "Servus in Kurs"
    assert reminder["Subject"].startswith("Erinnerung:")  # the built-in German variant
    assert english["Subject"] == "Welcome to Kurs!"  # the built-in default


@pytest.mark.parametrize("files, says", [
    # File by file: a French variant with a subject only lacks its bodies (German has built-in ones).
    ({"journeys/seed/onboarding/welcome/fr/subject.txt": "Bonjour\n"},
     "journeys/seed/onboarding/welcome/fr/body.txt: missing"),
    ({WELCOME + "subject.txt": "Hallo {{ no_such_value }}\n", WELCOME + "body.txt": "x\n", WELCOME + "body.html": "x"},
     f"{WELCOME}subject.txt: does not render for onboarding:welcome (UndefinedError: 'no_such_value' is undefined)"),
    ({WELCOME + "subject.txt": "Hallo {% if %}\n", WELCOME + "body.txt": "x\n", WELCOME + "body.html": "x"},
     "subject.txt: line 1:"),
    ({"journeys/seed/titles.de.yaml": "stages: [1, 2]\n"}, "journeys/seed/titles.de.yaml: expected"),
])
def test_a_broken_template_folder_stops_the_cohort_naming_the_file(tmp_path, files, says):
    _write(tmp_path / "my-templates", files)
    found = read_cohort_file(_cohort_file(tmp_path))
    assert "c1" not in found.cohorts
    assert "cohort 'c1': templates: " in found.broken["c1"] and says in found.broken["c1"], found.broken["c1"]


def test_a_link_out_of_the_template_folder_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's secret")
    folder = tmp_path / "my-templates" / "journeys" / "seed" / "onboarding" / "welcome"
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "subject.txt")
    with pytest.raises(ConfigError, match=r"templates: .*welcome/subject.txt: a link leading out of the template folder"):
        read_cohort_file(_cohort_file(tmp_path))


@pytest.mark.parametrize("name, says", [("no-such-folder", "no such folder"), ("", "templates: string should have at least 1 character"),
                                        ("my\ntemplates", "expected a folder's name")])
def test_a_template_folder_that_is_not_one_is_refused(tmp_path, name, says):
    with pytest.raises(ConfigError, match=says):
        read_cohort_file(_cohort_file(tmp_path, name))


@pytest.mark.parametrize("locale", ["xx-XX", "../de", "<b>de</b>", "de\n"])
def test_a_locale_the_reports_cannot_write_is_refused(tmp_path, locale):
    path = _cohort_file(tmp_path, None)
    doc = yaml.safe_load(path.read_text())
    doc["cohorts"][0]["locale"] = locale
    path.write_text(yaml.safe_dump(doc))
    found = read_cohort_file(path)
    assert "locale" in found.broken["c1"]


def test_journeys_check_lists_the_missing_variants_and_their_fallback(capsys, tmp_path):
    from onboarding.ops.journeys import main

    assert main(["check", str(ROOT / "config" / "journeys.yaml"), "--languages", "de,fr"]) == 0
    out = capsys.readouterr().out
    assert "saas-onboarding [de]: every email has its variant" in out
    # Every email the journey can send, the exploration tips of its optional step 14 included.
    assert "saas-onboarding [fr]: 18 of 18 email(s) without a fr variant" in out
    assert "  missing: exploration:exploration_tips -> falls back on journey/enter/ (English)" in out
    assert "  missing: verification:reminder_1 -> falls back on journey/reminder/ (English)" in out
    assert "  missing: csm:csm_introduction -> falls back on journeys/saas-onboarding/csm/csm_introduction/" in out
    assert main(["check", str(ROOT / "config" / "journeys.yaml"), "--languages", "../x"]) == 2
    (tmp_path / "out").symlink_to("/etc")
    assert main(["check", str(ROOT / "config" / "journeys.yaml"), "--languages", "de", "--templates", str(tmp_path)]) == 2
    assert "a link leading out" in capsys.readouterr().err


def test_a_cohorts_locale_writes_the_summarys_and_the_pages_dates():
    from onboarding.reporting.page import CohortFacts, _deadline_text, local

    german, english = make_cohort(locale="de-DE"), make_cohort()
    when = dt.datetime(2026, 12, 1, 19, 30, tzinfo=dt.timezone.utc)  # Wed 2 Dec, 06:30 in Sydney
    assert german.deadline_display() == "Freitag, 4. Dezember 2026, 23:59 Uhr (Australia/Sydney)"
    assert english.deadline_display() == "Friday 04 December 2026, 23:59 (Australia/Sydney)"  # as always
    assert german.local_time(when, "%a %d %b %Y %H:%M %Z") == "Mi. 02 Dez. 2026 06:30 AEDT"
    assert english.local_time(when, "%a %d %b %Y %H:%M %Z") == "Wed 02 Dec 2026 06:30 AEDT"
    facts, plain = CohortFacts.of(german), CohortFacts.of(english)
    assert local(when.isoformat(), facts.zone) == "Mi. 02 Dez. 2026 06:30"
    assert local(when.isoformat(), plain.zone) == local(when.isoformat(), plain.tz) == "Wed 02 Dec 2026 06:30"
    assert _deadline_text(facts) == "Fr. 04 Dez. 2026 23:59 (Australia/Sydney)"
    assert CohortFacts.recorded("c1", '{"cohort": {"timezone": "UTC", "locale": "de-DE"}}').zone.lang == "de"


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_the_table_of_names_is_whole(lang):
    from onboarding.languages import _SHORT_DAYS, _SHORT_MONTHS, NAMES

    days, months = NAMES[lang]
    assert len(days) == len(set(days)) == 7 and len(months) == len(set(months)) == 12
    if lang != "en":
        assert len(_SHORT_DAYS[lang]) == 7 and len(_SHORT_MONTHS[lang]) == 12
        assert all("%" not in w for w in (*days, *months, *_SHORT_DAYS[lang], *_SHORT_MONTHS[lang]))


def test_the_load_check_renders_with_what_the_pipeline_gives_the_templates():
    """The sample data a template folder is checked with has every key a real email gives."""
    from onboarding.delivery.messages import email_context
    from onboarding.templates import sample_context

    cohort = make_cohort()
    real = {*email_context(cohort, "Ann", "onb-0123456789abcdef0123"), "journey", "stage", "due", "unsubscribe", "csm"}
    assert set(sample_context(cohort, SEED, SEED.stages[0], "de")) == real


def test_no_template_is_read_through_dotdot_or_a_link_even_past_the_load_check(tmp_path):
    import jinja2

    from onboarding.templates import TemplateRefused, _env

    (tmp_path / "secret.txt").write_text("the server's secret")
    folder = tmp_path / "my-templates"
    (folder / "journey").mkdir(parents=True)
    (folder / "journey" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    env = _env(str(folder))
    with pytest.raises(jinja2.TemplateNotFound):
        env.get_template("../secret.txt")
    with pytest.raises(TemplateRefused, match="leads out of the template folder"):
        env.get_template("journey/leak.txt")
