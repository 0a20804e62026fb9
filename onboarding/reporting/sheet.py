"""The instructor's spreadsheet: what she used to keep by hand, rewritten by every run.

Three tables per cohort, built from the state database:
- **status**: every customer's standing as of the run (on time, late, missed, completed late,
  quarantined) and the emails each has been sent;
- **emails**: the email log (every customer email the ledger knows, sent or not, with why not);
- **quarantine**: the export rows the run could not use, with file, row, column and reason.

They are always written as CSV files in the run folder (``report/``, beside ``inputs/``). When the
cohort names a Google Sheet (``instructor_sheet``), they are also written there, one tab each
(``<cohort> status``...), in three API requests per cohort (read the tabs, size them, write all
values), retried with backoff on 429. Each run rewrites the tabs whole, so a rerun leaves the same
rows, never duplicates. The tabs belong to the pipeline: keep notes in other tabs.
"""
from __future__ import annotations

import csv
import io
import logging
from typing import Any

from onboarding import storage
from onboarding.cohorts import Cohort
from onboarding.reporting.summary import local_time
from onboarding.store import Store

log = logging.getLogger(__name__)

# Our standings in the instructor's words.
STATUS_LABELS = {"on_time": "on time", "pending": "late", "missed": "missed",
                 "completed_late": "completed late", "held": "quarantined"}
TABLES = ("status", "emails", "quarantine")


def _local(value: str | None, cohort: Cohort) -> str:
    return local_time(value, cohort) or ""


def _email_cell(status: str | None, sent_at: str | None, cohort: Cohort) -> str:
    if not status:
        return ""
    return f"sent {_local(sent_at, cohort)}" if status == "sent" and sent_at else status


def build(store: Store, cohort: Cohort, run_id: str) -> dict[str, list[list[str]]]:
    """The three tables of one cohort's run, each a header row and its rows, all text."""
    status = [["Email", "Name", "Status", "Completed at", "Signed up at", "Reminder", "Cancellation", "Welcome"]]
    for r in store.reports.status_table(run_id, cohort.id):
        status.append([r["email"], r["name"], STATUS_LABELS.get(r["status"], r["status"]),
                       _local(r["completed_at"], cohort), _local(r["signed_up_at"], cohort),
                       _email_cell(r["reminder_status"], r["reminder_sent_at"], cohort),
                       _email_cell(r["cancellation_status"], r["cancellation_sent_at"], cohort),
                       _email_cell(r["welcome_status"], r["welcome_sent_at"], cohort)])
    emails = [["Sent at", "Kind", "Recipient", "Name", "Status", "Sent by run", "Decided by run",
               "Gmail message id", "Attempts", "Last error"]]
    for r in store.reports.email_log(cohort.id):
        emails.append([_local(r["sent_at"], cohort), r["kind"], r["recipient"], r["recipient_name"], r["status"],
                       r["sent_run_id"] or "", r["decided_run_id"], r["provider_message_id"] or "",
                       str(r["attempts"]), r["last_error"] or ""])
    quarantine = [["Source", "File", "Row", "Column", "Value", "Reason", "Email"]]
    for r in store.reports.quarantine(run_id, cohort.id):
        quarantine.append([r["source"], r["file"], str(r["source_row"]), r["column_name"], r["value"] or "",
                           r["reason"], r["email"] or ""])
    return {"status": status, "emails": emails, "quarantine": quarantine}


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet program shows as text, never runs as a formula (OWASP's advice for
    CSV injection: a leading =, +, -, @, tab or carriage return gets a leading apostrophe)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def write_csv(tables: dict[str, list[list[str]]], folder: Any) -> list[str]:
    """The tables as CSV files (UTF-8 with BOM, so Excel opens them right); rewritten each time.
    Cells that a spreadsheet would run as formulas are neutralised."""
    paths = []
    for name, rows in tables.items():
        buf = io.StringIO(newline="")
        csv.writer(buf).writerows([[spreadsheet_safe(str(c)) for c in row] for row in rows])
        path = folder / f"{name}.csv"
        storage.write_bytes(path, buf.getvalue().encode("utf-8-sig"))
        paths.append(storage.display(path))
    return paths


def tab_title(cohort_id: str, table: str) -> str:
    return f"{cohort_id} {table}"


def write_sheet(client: Any, spreadsheet: str, cohort_id: str, tables: dict[str, list[list[str]]]) -> dict[str, Any]:
    """Rewrite the cohort's tabs in the spreadsheet: three requests, whatever the size.

    Each tab is sized to its table (header row frozen) and every cell of it written, so rows
    left from a longer earlier table disappear and a rerun leaves exactly the same tab.
    """
    from onboarding.google_api import spreadsheet_key

    key = spreadsheet_key(spreadsheet)
    http = client.http_client
    meta = http.fetch_sheet_metadata(key)  # request 1: the spreadsheet's tabs
    existing = {s["properties"]["title"]: s["properties"] for s in meta["sheets"]}
    requests, data = [], []
    for name, rows in tables.items():
        title = tab_title(cohort_id, name)
        width = max(len(r) for r in rows)
        # At least one row below the frozen header: Sheets refuses to freeze every row.
        height = max(len(rows), 2)
        grid = {"rowCount": height, "columnCount": width, "frozenRowCount": 1}
        if title in existing:
            requests.append({"updateSheetProperties": {
                "properties": {"sheetId": existing[title]["sheetId"], "gridProperties": grid},
                "fields": "gridProperties(rowCount,columnCount,frozenRowCount)"}})
        else:
            requests.append({"addSheet": {"properties": {"title": title, "gridProperties": grid}}})
        padded = [list(r) + [""] * (width - len(r)) for r in rows] + [[""] * width] * (height - len(rows))
        data.append({"range": f"'{title.replace(chr(39), chr(39) * 2)}'!A1", "values": padded})
    http.batch_update(key, {"requests": requests})  # request 2: add or size the tabs
    http.values_batch_update(key, {"valueInputOption": "RAW", "data": data})  # request 3: every cell
    return {"spreadsheet": f"https://docs.google.com/spreadsheets/d/{key}", "tabs": [tab_title(cohort_id, n) for n in tables],
            "rows": {n: len(r) - 1 for n, r in tables.items()}}
