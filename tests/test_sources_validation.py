"""CSV sources and GX validation: dataset problems stop the cohort, row problems quarantine the row."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from onboarding.cohorts import SourceConfig
from onboarding.errors import DatasetError
from onboarding.sources import make_source
from onboarding.validation.gx import Validator
from onboarding.validation.values import parse_timestamp


@pytest.fixture(scope="module")
def validator():
    return Validator()  # one GX context for the module: building it takes seconds


def source(tmp_path, role, text, columns, **opts):
    path = tmp_path / f"{role}-export.csv"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return SourceConfig(role, "csv", columns, {"path": str(path), **opts.pop("options", {})}, **opts)


SIGNUP_COLS = {"email": "Email", "name": "Name", "signed_up_at": "When"}
DONE_COLS = {"email": "user_email", "completed_at": "completed_at"}


def check(validator, tmp_path, cfg, tz="Australia/Sydney"):
    src = make_source(cfg)
    snap = src.snapshot(tmp_path / "run" / "inputs")
    return validator.validate(src.read(snap), cfg, snap, tz, tmp_path / "run" / "validation")


def test_snapshot_is_an_immutable_copy_reused_by_a_retry(tmp_path):
    cfg = source(tmp_path, "signups", "Email,Name\na@x.org,A\n", {"email": "Email", "name": "Name"})
    src = make_source(cfg)
    first = src.snapshot(tmp_path / "inputs")
    # The export changes after the run read it: a retry of the same run still reads the copy.
    (tmp_path / "signups-export.csv").write_text("Email,Name\nb@x.org,B\n")
    again = src.snapshot(tmp_path / "inputs")
    assert again == first
    assert open(first.path).read() == "Email,Name\na@x.org,A\n"
    assert oct(os.stat(first.path).st_mode & 0o777) == "0o444"
    assert len(first.sha256) == 64


def test_row_problems_are_quarantined_with_file_row_column_and_reason(validator, tmp_path):
    text = ("Email,Name,When\n"
            "ok@x.org,Good Row,2026-11-01T10:00\n"           # row 2
            "not-an-email,Bad Email,2026-11-01T10:00\n"      # row 3
            ",No Email,2026-11-01T10:00\n"                   # row 4
            "noname@x.org,,2026-11-01T10:00\n"               # row 5
            "badtime@x.org,Bad Time,next tuesday\n"          # row 6
            "\n"                                             # row 7: blank, skipped but counted
            "  MiXeD@X.org ,\"Multi\nLine\",2026-11-02\n"    # row 8: trimmed, lower-cased, name on one line
            "extra@x.org,Extra,2026-11-01T10:00,surplus\n")  # row 9
    cfg = source(tmp_path, "signups", text, SIGNUP_COLS)
    out = check(validator, tmp_path, cfg)
    reasons = {(q.row, q.column, q.reason) for q in out.quarantined}
    assert reasons == {
        (3, "Email", "invalid email address"),
        (4, "Email", "missing email"),
        (5, "Name", "missing name"),
        (6, "When", "unparseable timestamp (expected ISO 8601)"),
        (9, "*", "record has more fields than the header row"),
    }
    assert all(q.file == str(tmp_path / "signups-export.csv") for q in out.quarantined)
    good = {r["row"]: r for r in out.rows}
    assert set(good) == {2, 8}
    assert good[8]["email"] == "mixed@x.org" and good[8]["name"] == "Multi Line"
    assert good[8]["timestamp"] == dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.timezone.utc)  # midnight Sydney
    assert os.path.exists(out.results_path)


@pytest.mark.parametrize("text,message", [
    (b"", "is empty (0 bytes)"),
    (b"\n\n", "has no header row"),
    (b"Email,Name\n", "has no records"),
    (b"Mail,Name\na@x.org,A\n", "column 'Email' (mapped as 'email') is missing; the header row has ['Mail', 'Name']"),
    (b"Email,Name\n\xff\xfe,A\n", "not UTF-8 text"),
    (b"Email,Name,Email\na,b,c\n", "appear more than once in the header row"),
])
def test_dataset_problems_fail_with_a_clear_message(validator, tmp_path, text, message):
    cfg = source(tmp_path, "signups", text, {"email": "Email", "name": "Name"})
    with pytest.raises(DatasetError) as err:
        check(validator, tmp_path, cfg)
    assert message in str(err.value)
    assert "signups-export.csv" in str(err.value)


def test_missing_export_names_the_path(tmp_path):
    cfg = SourceConfig("completions", "csv", DONE_COLS, {"path": str(tmp_path / "nope.csv")})
    with pytest.raises(DatasetError, match="nope.csv: completions export not found"):
        make_source(cfg).snapshot(tmp_path / "inputs")


def test_conflicting_duplicate_completions_fail_the_export(validator, tmp_path):
    text = ("user_email,completed_at\n"
            "a@x.org,2026-11-20T01:00:00Z\n"
            "A@X.org ,2026-11-21T01:00:00Z\n"
            "b@x.org,2026-11-20T01:00:00Z\n")
    with pytest.raises(DatasetError, match=r"1 customer\(s\) have completion records that disagree.*a@x.org: rows 2, 3"):
        check(validator, tmp_path, source(tmp_path, "completions", text, DONE_COLS))


def test_exact_duplicate_completions_collapse(validator, tmp_path):
    text = ("user_email,completed_at\n"
            "a@x.org,2026-11-20T01:00:00Z\n"
            "a@x.org,2026-11-20T12:00:00+11:00\n")  # the same instant written another way
    out = check(validator, tmp_path, source(tmp_path, "completions", text, DONE_COLS))
    assert len(out.rows) == 2 and not out.quarantined


def test_bom_and_semicolons_and_configured_formats(validator, tmp_path):
    text = "\ufeffEmail;Name;When\na@x.org;Zoë;11/02/2026 14:23:11\n"
    cfg = source(tmp_path, "signups", text, SIGNUP_COLS, options={"delimiter": ";"},
                 timestamp_format="%m/%d/%Y %H:%M:%S", timezone="America/New_York")
    (row,) = check(validator, tmp_path, cfg).rows
    assert row["name"] == "Zoë"
    assert row["timestamp"] == dt.datetime(2026, 11, 2, 19, 23, 11, tzinfo=dt.timezone.utc)


def test_timestamps_with_offsets_compare_in_utc():
    from zoneinfo import ZoneInfo

    syd = ZoneInfo("Australia/Sydney")
    assert parse_timestamp("2026-12-04T13:30:00Z", syd) == parse_timestamp("2026-12-05T00:30:00+11:00", syd)
    assert parse_timestamp("2026-12-05 00:30", syd) == dt.datetime(2026, 12, 4, 13, 30, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError):
        parse_timestamp("yesterday", syd)
