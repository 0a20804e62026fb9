"""Cohort configuration: the bundled file loads; mistakes are reported with the cohort and key."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from helpers import minimal
from onboarding import paths as settings
from onboarding.cohorts import load_cohorts, select_cohorts
from onboarding.errors import ConfigError
from onboarding.ops import airflow_setup as airflow_settings
from onboarding.run import resolve_as_of


def test_bundled_configuration_loads():
    cohorts = load_cohorts()
    assert list(cohorts) == ["data-eng-2026-12", "ux-2026-12"]
    de = cohorts["data-eng-2026-12"]
    assert de.reminder_days_before == 3 and de.welcome_timing == "after_deadline"
    assert de.deadline_at.isoformat() == "2026-12-05T00:00:00+11:00"
    assert de.reminder_window_start.isoformat() == "2026-12-01T00:00:00+11:00"
    ux = cohorts["ux-2026-12"]
    assert ux.grace_period == dt.timedelta(hours=2) and ux.welcome_timing == "on_completion"
    assert ux.signups.columns["email"] == "E-mail Address"
    assert ux.signups.options["path"].endswith("sample_data/ux-2026-12/signups.csv")


def test_path_comes_from_the_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"cohorts": [minimal()]}))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cfg))
    assert settings.cohorts_file() == cfg
    assert list(load_cohorts()) == ["c1"]
    assert load_cohorts()["c1"].signups.options["path"] == str(tmp_path / "s.csv")


@pytest.mark.parametrize("over,message", [
    ({"timezone": "Mars/Olympus"}, "cohort 'c1'.timezone: unknown time zone 'Mars/Olympus'"),
    ({"deadline": "4/12/2026"}, "cohort 'c1'.deadline: '4/12/2026' is not a date"),
    ({"welcome_timing": "whenever"}, "cohort 'c1'.welcome_timing"),
    ({"reminder_days_before": -1}, "cohort 'c1'.reminder_days_before"),
    ({"grace_period": "a while"}, "cohort 'c1'.grace_period: 'a while' is not a duration"),
    ({"id": "Bad Id"}, "cohorts[0].id: 'Bad Id'"),
    ({"instructor": "nobody"}, "cohort 'c1'.instructor: 'nobody' is not an email address"),
    ({"guards": {"max_cancel_share": 2}}, "cohort 'c1'.guards.max_cancel_share: 2 must be a share between 0 and 1"),
    ({"guards": {"max_age": "1d"}}, "cohort 'c1'.guards: unknown key(s) ['max_age']"),
    ({"sources": {"signups": {"path": "s.csv", "columns": {"email": "E"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups.columns: name must be mapped"),
    ({"sources": {"signups": {"path": "s.csv", "columns": {"email": "E", "name": "N", "phone": "P"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "unknown field(s) ['phone']"),
    ({"sources": {"signups": {"type": "ftp", "path": "s.csv", "columns": {"email": "E", "name": "N"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups.type: 'ftp' is not one of ['csv', 'sql', 'google_sheet']"),
    ({"sources": {"signups": {"type": "sql", "connection": "web", "columns": {"email": "E", "name": "N"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups: a sql source needs 'query'"),
    ({"sources": {"signups": {"type": "google_sheet", "spreadsheet": "x" * 20, "sheet": "Form",
                              "columns": {"email": "E", "name": "N"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups: unknown key(s) ['sheet'] for a google_sheet source"),
    ({"sources": {"signups": {"path": "s.csv", "timestamp_format": [], "columns": {"email": "E", "name": "N"}},
                  "completions": {"path": "c.csv", "columns": {"email": "E", "completed_at": "T"}}}},
     "cohort 'c1'.sources.signups.timestamp_format: expected a format"),
    ({"instructor_sheet": "my sheet"}, "cohort 'c1'.instructor_sheet.spreadsheet: 'my sheet' is neither"),
    ({"instructor_sheet": {"spreadsheet": "1abcdefghijkl", "tab": "x"}},
     "cohort 'c1'.instructor_sheet: unknown key(s) ['tab']"),
    ({"data_team": ["ops@example.edu", "not-an-address"]}, "cohort 'c1'.data_team: expected an email address"),
])
def test_mistakes_name_the_cohort_and_key(tmp_path, over, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"cohorts": [minimal(**over)]}))
    with pytest.raises(ConfigError) as err:
        load_cohorts(cfg)
    assert message in str(err.value) and str(cfg) in str(err.value)


def test_guard_settings_and_release_param(tmp_path):
    from onboarding.decisions.guards import released

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"cohorts": [minimal(guards={"max_source_age": "2d", "max_cancel_share": None})]}))
    g = load_cohorts(cfg)["c1"].guards
    assert g.max_source_age == dt.timedelta(days=2) and g.max_cancel_share is None and g.max_completion_shrink == 0.2
    assert load_cohorts()["data-eng-2026-12"].guards.max_source_age is None  # off for the static samples
    assert released("all") == {"stale_source", "shrunk_completions", "mass_cancellation"}
    assert released(" stale_source ,mass_cancellation") == {"stale_source", "mass_cancellation"}
    assert released(None) == set()
    with pytest.raises(ValueError, match="unknown guard"):
        released("everything")


def test_duplicate_ids_and_unknown_selection(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"cohorts": [minimal(), minimal()]}))
    with pytest.raises(ConfigError, match="cohort id 'c1' appears twice"):
        load_cohorts(cfg)
    cohorts = load_cohorts()
    assert [c.id for c in select_cohorts(cohorts, "all")] == list(cohorts)
    assert [c.id for c in select_cohorts(cohorts, " ux-2026-12 ")] == ["ux-2026-12"]
    with pytest.raises(ConfigError, match=r"unknown cohort\(s\) \['nope'\]"):
        select_cohorts(cohorts, "nope")


def test_as_of_param_forms():
    logical = dt.datetime(2026, 12, 4, 19, 0, tzinfo=dt.timezone.utc)
    six = dt.time(6)
    assert resolve_as_of(None, logical, "Australia/Sydney", six) == logical
    assert resolve_as_of("2026-12-05", logical, "Australia/Sydney", six).isoformat() == "2026-12-04T19:00:00+00:00"
    assert resolve_as_of("2026-12-05T09:30", logical, "Australia/Sydney", six).isoformat() == "2026-12-04T22:30:00+00:00"
    assert resolve_as_of("2026-12-05T09:30:00Z", logical, "Australia/Sydney", six).isoformat() == "2026-12-05T09:30:00+00:00"
    with pytest.raises(ValueError, match="neither a date"):
        resolve_as_of("last friday", logical, "Australia/Sydney", six)


def test_airflow_settings_fill_secrets_from_the_environment():
    env = {"ONBOARDING_ROOT": "/srv/onb", "ONBOARDING_EMAIL_BACKEND": "gmail", "GMAIL_CLIENT_ID": "cid",
           "GMAIL_CLIENT_SECRET": "s3cret", "GMAIL_REFRESH_TOKEN": "rt"}
    conns = airflow_settings.connections(env=env)
    assert conns["onboarding_state"] == {"conn_type": "sqlite", "host": "/srv/onb/var/data/state.db"}
    extra = conns["onboarding_email"]["extra"]
    assert extra["backend"] == "gmail" and extra["client_secret"] == "s3cret"
    assert "api_endpoint" not in extra  # unset values are dropped, not empty strings
    # With nothing set, the default is the local outbox and no secret keys at all.
    extra = airflow_settings.connections(env={"ONBOARDING_ROOT": "/srv/onb"})["onboarding_email"]["extra"]
    assert extra["backend"] == "outbox" and extra["path"] == "/srv/onb/var/outbox"
    assert not {"client_id", "client_secret", "refresh_token"} & set(extra)
    json.dumps(conns)


def test_source_types_sheet_and_data_team(tmp_path):
    cfg = tmp_path / "c.yaml"
    sources = {"signups": {"type": "google_sheet", "spreadsheet": "https://docs.google.com/spreadsheets/d/1abcDEF_ghij/",
                           "worksheet": "Form Responses 1", "header_row": 2, "columns": {"email": "E", "name": "N"},
                           "timestamp_format": ["excel_serial", "%d/%m/%Y %H:%M"]},
               "completions": {"type": "csv", "path": "s3://exports/lms/completions.csv", "connection": "aws",
                               "delimiter": ";", "columns": {"email": "E", "completed_at": "T"}}}
    cfg.write_text(yaml.safe_dump({"defaults": {"data_team": "ops@example.edu", "instructor_sheet": "1abcdefghijkl"},
                                   "cohorts": [minimal(sources=sources)]}))
    c = load_cohorts(cfg)["c1"]
    assert c.signups.timestamp_format == ("excel_serial", "%d/%m/%Y %H:%M")
    assert c.signups.location == "google-sheet:https://docs.google.com/spreadsheets/d/1abcDEF_ghij/ [Form Responses 1]"
    assert c.completions.options["path"] == "s3://exports/lms/completions.csv"  # a URL is not made local
    assert c.instructor_sheet == {"spreadsheet": "1abcdefghijkl", "connection": "onboarding_google"}
    assert c.data_team == ("ops@example.edu",)
