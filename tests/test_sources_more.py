"""The sources a real instructor has: a Google Sheet (gspread against the local fake Sheets API),
the website's database (SQLite and PostgreSQL through an Airflow connection), CSV from object
storage and the CSV dialects Excel writes. Each bad input must give a clear error naming where."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from onboarding.cohorts import SourceConfig
from onboarding.errors import DatasetError, SourceUnavailable
from onboarding.resources import Resources
from onboarding.sources import make_source as _make_source
from onboarding.sources.sheet_source import GoogleSheetSource as _GoogleSheetSource
from onboarding.validation.gx import Validator


def make_source(cfg, cohort_id=None):
    """A source with the clients a task hands it: Airflow's connections (AIRFLOW_CONN_* here)."""
    return _make_source(cfg, cohort_id, Resources())


def GoogleSheetSource(cfg, extra):  # noqa: N802 - the source, with a Google connection of the test's own
    return _GoogleSheetSource(cfg, Resources(connections={"onboarding_google": {"conn_type": "generic",
                                                                                "extra": extra}}))

SHEET = "1FormResponsesSheetId"
SIGNUP_COLS = {"email": "Email Address", "name": "Full Name", "signed_up_at": "Timestamp"}


@pytest.fixture(scope="module")
def validator():
    return Validator()


def read_and_validate(validator, src, cfg, tmp_path, tz="Australia/Sydney"):
    snap = src.snapshot(tmp_path / "run" / "inputs")
    return snap, validator.validate(src.read(snap), cfg, snap, tz, tmp_path / "run" / "validation")


def sheet_source(fake, columns=SIGNUP_COLS, role="signups", **options):
    cfg = SourceConfig(role, "google_sheet", columns, {"spreadsheet": SHEET, **options})
    return cfg, GoogleSheetSource(cfg, fake.google_extra())


# --- Google Sheets -------------------------------------------------------------------------------

def test_sheet_with_date_cells_blank_headers_trailing_rows_and_merged_cells(fake_google, validator, tmp_path):
    fake_google.add_spreadsheet(SHEET, {
        "Form Responses 1": [
            ["Timestamp", "Email Address", "Full Name", "", "Notes"],   # row 1: a blank header cell (D)
            [46357.25, "ann@x.org", "Ann Lee"],                          # row 2: a date cell (serial number)
            ["11/30/2026 18:30:00", "bob@x.org", "Bob Roe", "x"],        # row 3: a date typed as text
            [46358.5, "cy@x.org", "Cy Doe", "", "dup row below"],       # row 4: top-left of a merged name
            [46358.75, "di@x.org", ""],                                  # row 5: inside the merged range C4:C5
            [46359, 12345, "Numbers"],                                   # row 6: a number where an email goes
            ["", "", ""], ["", "", ""],                                  # rows 7-8: trailing empty rows
        ]},
        merges={"Form Responses 1": [{"sheetId": 1, "startRowIndex": 3, "endRowIndex": 5,
                                      "startColumnIndex": 2, "endColumnIndex": 3}]})
    cfg, src = sheet_source(fake_google, worksheet="Form Responses 1")
    cfg = SourceConfig("signups", "google_sheet", SIGNUP_COLS, cfg.options, timestamp_format="%m/%d/%Y %H:%M:%S")
    src = GoogleSheetSource(cfg, fake_google.google_extra())
    snap, out = read_and_validate(validator, src, cfg, tmp_path)
    assert snap.source_type == "google_sheet" and snap.modified_at == "2026-12-01T10:00:00+00:00"
    assert snap.path.endswith("signups.sheet.json") and len(snap.sha256) == 64
    good = {r["email"]: r for r in out.rows}
    assert sorted(good) == ["ann@x.org", "bob@x.org", "cy@x.org"]
    # 46357.25 = 2026-12-01 06:00 in Sydney (AEDT, +11) = 2026-11-30 19:00 UTC.
    assert good["ann@x.org"]["timestamp"] == dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.timezone.utc)
    assert good["bob@x.org"]["timestamp"] == dt.datetime(2026, 11, 30, 7, 30, tzinfo=dt.timezone.utc)
    problems = {(q.row, q.column): q.reason for q in out.quarantined}
    assert "inside merged cells C4:C5" in problems[(5, "Full Name")]
    assert problems[(6, "Email Address")] == "invalid email address"
    assert all(q.file == f"google-sheet:{SHEET} [Form Responses 1]" for q in out.quarantined)
    assert out.total_rows == 5  # the two trailing empty rows are not records


def test_sheet_header_row_below_a_title(fake_google, validator, tmp_path):
    fake_google.add_spreadsheet(SHEET, {"Roster": [
        ["December roster (do not edit)"], ["Timestamp", "Email Address", "Full Name"],
        ["2026-11-20T09:00", "ann@x.org", "Ann"]]})
    cfg, src = sheet_source(fake_google, header_row=2)
    _, out = read_and_validate(validator, src, cfg, tmp_path)
    assert [r["row"] for r in out.rows] == [3]  # row numbers as the sheet shows them


@pytest.mark.parametrize("setup,options,message", [
    (lambda f: None, {}, "spreadsheet not found (check the id or URL)"),
    (lambda f: (f.add_spreadsheet(SHEET, {"A": [["x"]]}), f.not_shared.add(SHEET)), {},
     "access refused (403): share the spreadsheet with the connection's account"),
    (lambda f: f.add_spreadsheet(SHEET, {"Form Responses 1": [["x"]], "Other": []}), {"worksheet": "Responses"},
     "no worksheet named 'Responses'; the spreadsheet has ['Form Responses 1', 'Other']"),
    (lambda f: f.add_spreadsheet(SHEET, {"Sheet1": []}), {}, "the signups export has no header row (row 1 is empty)"),
    (lambda f: f.add_spreadsheet(SHEET, {"Sheet1": [["Timestamp", "Email", "Full Name"], ["", "a@x.org", "A"]]}), {},
     "column 'Email Address' (mapped as 'email') is missing; the header row has ['Timestamp', 'Email', 'Full Name']"),
    (lambda f: None, {"spreadsheet": "not a sheet"}, "'not a sheet' is neither a spreadsheet id nor a Google Sheets URL"),
])
def test_sheet_bad_inputs_give_clear_errors(fake_google, validator, tmp_path, setup, options, message):
    setup(fake_google)
    cfg, src = sheet_source(fake_google, **options)
    with pytest.raises(DatasetError) as err:
        read_and_validate(validator, src, cfg, tmp_path)
    assert message in str(err.value)
    assert "google-sheet:" in str(err.value)


def test_sheet_rate_limit_is_retried_then_read(fake_google, validator, tmp_path):
    fake_google.add_spreadsheet(SHEET, {"S": [["Timestamp", "Email Address", "Full Name"], ["", "a@x.org", "A"]]})
    fake_google.script("sheets.values.get", "429", "503")
    cfg, src = sheet_source(fake_google)
    _, out = read_and_validate(validator, src, cfg, tmp_path)
    assert [r["email"] for r in out.rows] == ["a@x.org"]
    assert fake_google.faults_served["429"] == 1 and fake_google.faults_served["503"] == 1


def test_sheet_that_keeps_refusing_is_unavailable_not_bad_data(fake_google, tmp_path):
    fake_google.add_spreadsheet(SHEET, {"S": [["Timestamp"]]})
    fake_google.script("sheets.values.get", *["429"] * 6)
    cfg = SourceConfig("signups", "google_sheet", SIGNUP_COLS, {"spreadsheet": SHEET})
    src = GoogleSheetSource(cfg, fake_google.google_extra(sheets_attempts=3))
    with pytest.raises(SourceUnavailable, match="Google Sheets answered 429"):
        src.snapshot(tmp_path / "inputs")


def test_sheet_credentials_come_from_an_airflow_connection(fake_google, validator, tmp_path, monkeypatch):
    fake_google.add_spreadsheet(SHEET, {"S": [["Timestamp", "Email Address", "Full Name"], ["", "a@x.org", "A"]]})
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_GOOGLE", json.dumps({"conn_type": "generic",
                                                                "extra": fake_google.google_extra()}))
    cfg = SourceConfig("signups", "google_sheet", SIGNUP_COLS,
                       {"spreadsheet": f"https://docs.google.com/spreadsheets/d/{SHEET}/edit#gid=0",
                        "connection": "forms_google"})
    _, out = read_and_validate(validator, make_source(cfg), cfg, tmp_path)
    assert [r["email"] for r in out.rows] == ["a@x.org"]


# --- SQL (the website's database) ----------------------------------------------------------------

def _fill_website(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE course_signups (email TEXT, full_name TEXT, created_at TIMESTAMP, "
                             "cohort_code TEXT, status TEXT)"))
        conn.execute(sa.text("INSERT INTO course_signups VALUES (:e, :n, :t, :c, :s)"), [
            {"e": "ann@x.org", "n": "Ann", "t": dt.datetime(2026, 11, 1, 10, 0), "c": "c1", "s": "active"},
            {"e": "bob@x.org", "n": None, "t": dt.datetime(2026, 11, 2, 10, 0), "c": "c1", "s": "active"},
            {"e": "cy@x.org", "n": "Cy", "t": dt.datetime(2026, 11, 3, 10, 0), "c": "c1", "s": "withdrawn"},
            {"e": "zed@x.org", "n": "Zed", "t": dt.datetime(2026, 11, 4, 10, 0), "c": "other", "s": "active"}])


def sql_source(query="sources/website_signups.sql", **params):
    return SourceConfig("signups", "sql", {"email": "email", "name": "full_name", "signed_up_at": "created_at"},
                        {"connection": "website_db", "query": query,
                         "parameters": {"excluded_status": "withdrawn", **params}})


def test_sql_source_reads_the_cohorts_rows_through_a_connection(website_db, validator, tmp_path):
    _fill_website(website_db)
    cfg = sql_source()
    src = make_source(cfg, cohort_id="c1")
    snap, out = read_and_validate(validator, src, cfg, tmp_path)
    assert snap.source_type == "sql" and snap.location == "sql:website_db/sources/website_signups.sql"
    assert snap.path.endswith("signups.csv")  # the query's rows, frozen for retries and replays
    assert [r["email"] for r in out.rows] == ["ann@x.org"]  # other cohorts and withdrawals filtered by the query
    assert [(q.row, q.column, q.reason) for q in out.quarantined] == [(3, "full_name", "missing name")]
    assert out.rows[0]["timestamp"] == dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.timezone.utc)
    # A retry of the run reads the same rows even if the database changed meanwhile.
    with website_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM course_signups"))
    assert make_source(cfg, cohort_id="c1").snapshot(tmp_path / "run" / "inputs") == snap


@pytest.mark.parametrize("cfg,message", [
    (sql_source("sources/missing.sql"), "sql:website_db/sources/missing.sql: query file not found under include/sql/"),
    (sql_source("../../etc/passwd"), "query file not found under include/sql/"),
    (SourceConfig("signups", "sql", {"email": "email", "name": "full_name"},
                  {"connection": "website_db", "query": "sources/website_signups.sql"}),
     "the query needs parameter(s) ['excluded_status']; set them under 'parameters'"),
    (SourceConfig("signups", "sql", {"email": "email", "name": "n"},
                  {"connection": "no_such_conn", "query": "sources/website_signups.sql"}),
     "Airflow connection 'no_such_conn' not found"),
    (SourceConfig("completions", "sql", {"email": "email", "completed_at": "completed_at"},
                  {"connection": "website_db", "query": "sources/lms_completions.sql"}),
     "sql:website_db/sources/lms_completions.sql: the query failed:"),
])
def test_sql_bad_inputs_give_clear_errors(website_db, tmp_path, cfg, message):
    _fill_website(website_db)
    with pytest.raises(DatasetError) as err:
        make_source(cfg, cohort_id="c1").snapshot(tmp_path / "inputs")
    assert message in str(err.value)


def test_sql_database_that_does_not_answer_is_retried_not_bad_data(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WEBSITE_DB", json.dumps({"conn_type": "postgres", "host": "127.0.0.1",
                                                              "port": 1, "login": "nobody", "schema": "x"}))
    with pytest.raises(SourceUnavailable, match="the database did not answer"):
        make_source(sql_source(), cohort_id="c1").snapshot(tmp_path / "inputs")


# --- CSV: object storage and dialects ------------------------------------------------------------

def test_csv_from_an_object_storage_url(validator, tmp_path):
    path = tmp_path / "bucket" / "signups.csv"
    path.parent.mkdir()
    path.write_text("Email,Name\na@x.org,A\n")
    cfg = SourceConfig("signups", "csv", {"email": "Email", "name": "Name"}, {"path": f"file://{path}"})
    snap, out = read_and_validate(validator, make_source(cfg), cfg, tmp_path)
    assert snap.location == f"file://{path}" and snap.modified_at is not None
    assert [r["email"] for r in out.rows] == ["a@x.org"]
    missing = SourceConfig("signups", "csv", {"email": "Email", "name": "Name"},
                           {"path": f"file://{tmp_path}/bucket/nope.csv"})
    with pytest.raises(DatasetError, match="nope.csv: signups export not found"):
        make_source(missing).snapshot(tmp_path / "other")


def _csv(tmp_path, data: bytes, columns, **kw):
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    options = {"path": str(path), **kw.pop("options", {})}
    return SourceConfig("completions", "csv", columns, options, **kw)


DONE = {"email": "E-mail", "completed_at": "Completed"}


def test_excel_european_csv_bom_semicolons_and_serial_dates(validator, tmp_path):
    data = ("E-mail;Completed\r\nann@x.org;46357,25\r\nbob@x.org;01.12.2026 07:00\r\n"
            "cy@x.org;2026-12-01T08:00:00+11:00\r\n").encode("utf-8-sig")
    cfg = _csv(tmp_path, data, DONE, options={"delimiter": ";"},
               timestamp_format=["excel_serial", "%d.%m.%Y %H:%M"])
    _, out = read_and_validate(validator, make_source(cfg), cfg, tmp_path)
    # "46357,25" has a decimal comma: not a number this reader guesses at; quarantined, named.
    assert [(q.row, q.reason) for q in out.quarantined] == [
        (2, "unparseable timestamp (expected excel_serial or %d.%m.%Y %H:%M)")]
    stamps = {r["email"]: r["timestamp"] for r in out.rows}
    assert stamps["bob@x.org"] == dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.timezone.utc)
    assert stamps["cy@x.org"] == dt.datetime(2026, 11, 30, 21, 0, tzinfo=dt.timezone.utc)  # ISO always accepted

    cfg = _csv(tmp_path, b"E-mail,Completed\nann@x.org,46357.25\n", DONE, timestamp_format="excel_serial")
    _, out = read_and_validate(validator, make_source(cfg), cfg, tmp_path / "2")
    assert out.rows[0]["timestamp"] == dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("data,kw,message", [
    (b"E-mail;Completed\nann@x.org;2026-12-01\n", {},
     "The header row looks semicolon-separated: set delimiter: ';' for this source."),
    ("E-mail,Completed\nRen\xe9@x.org,2026-12-01\n".encode("cp1252"), {},
     "not UTF-8 text (line 2, byte 21: invalid continuation byte). If the file was saved by Excel on Windows, "
     "set encoding: cp1252"),
    (b"E-mail,Completed\na@x.org,1\n", {"options": {"encoding": "klingon"}}, "unknown encoding 'klingon'"),
    (b"", {}, "the completions export is empty (0 bytes)"),
])
def test_csv_dialect_problems_are_reported(validator, tmp_path, data, kw, message):
    cfg = _csv(tmp_path, data, DONE, **kw)
    with pytest.raises(DatasetError) as err:
        read_and_validate(validator, make_source(cfg), cfg, tmp_path)
    assert message in str(err.value)
    assert str(tmp_path / "export.csv") in str(err.value)


def test_windows_encoding_is_read_when_configured(validator, tmp_path):
    cfg = _csv(tmp_path, "E-mail,Completed\nrene@x.org,2026-12-01\n".encode("cp1252"), DONE,
               options={"encoding": "cp1252"})
    _, out = read_and_validate(validator, make_source(cfg), cfg, tmp_path)
    assert [r["email"] for r in out.rows] == ["rene@x.org"]
