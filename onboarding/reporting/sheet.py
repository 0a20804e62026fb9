"""The instructor's spreadsheet: what she used to keep by hand, rewritten by every run.

Three tables per cohort, built from the state database:
- **status**: every customer's standing as of the run (on time, not yet, missed, completed late,
  on hold; the words of ``onboarding.words``) and the emails each has been sent;
- **emails**: the email log (every customer email the ledger knows, sent or not, with why not);
- **quarantine**: the export rows the run could not use, with file, row, column and reason.

They are always written as CSV files in the run folder (``report/``, beside ``inputs/``). When the
cohort names a Google Sheet (``instructor_sheet``), they are also written there, one tab each
(``<cohort> status``...): one request reads the tabs, one sizes them, and the values follow in
requests of ``SHEET_BATCH_ROWS`` rows (one request for a cohort of a few thousand), retried with
backoff on 429. Each run rewrites the tabs whole, so a rerun leaves the same rows, never
duplicates. The tabs belong to the pipeline: keep notes in other tabs. A spreadsheet holds at most
ten million cells: tables that would not fit are not written there (her summary says so, and the
CSV files hold them).

At any size the tables are streamed from the database in chunks, never held whole in memory.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from onboarding import storage, words
from onboarding.cohorts import Cohort
from onboarding.decisions import journey_of
from onboarding.errors import SheetTooLarge
from onboarding.journeys import Journey
from onboarding.store import Store

log = logging.getLogger(__name__)

TABLES = ("status", "emails", "quarantine")
HEADERS = {
    # A course cohort's status tab: then a column per email kind of the seed journey (``status_header``).
    "status": ["Email", "Name", "Status", "Completed at", "Signed up at"],
    "emails": ["Sent at", "Kind", "Recipient", "Name", "Status", "Sent by run", "Decided by run", "Gmail message id",
               "Attempts", "Last error"],
    "quarantine": ["Source", "File", "Row", "Column", "Value", "Reason", "Email"],
    "would_send": ["Kind", "Email", "Name", "Why"],
    # A journey cohort's status tab: where each customer is, since when, and who looks after them.
    "journey_status": ["Email", "Name", "Stage: standing", "Signed up at", "In this stage since", "Due",
                       "CSM", "Emails sent"],
}
SHEET_CELL_LIMIT = 10_000_000  # Google Sheets: cells in a whole spreadsheet
SHEET_BATCH_ROWS = 10_000  # rows written per values request


@dataclass
class Table:
    """One of the instructor's tables: its header, how many rows, and a way to read them (in
    chunks of text rows, as often as needed: the CSV file and the Google Sheet each read it)."""

    name: str
    header: list[str]
    count: int
    read: Callable[[], Iterator[list[list[str]]]]


def build(store: Store, cohort: Cohort, run_id: str, dry_run: bool = False) -> dict[str, Table]:
    """The three tables of one cohort's run, read from the database when written; a dry run's
    list of what would have been sent comes first (``would_send``)."""

    def reader(name: str, format_chunk, header: list[str], per_customer: bool = False) -> Table:
        count, _ = store.reports.table(name, run_id, cohort.id)

        def read() -> Iterator[list[list[str]]]:
            _, chunks = store.reports.table(name, run_id, cohort.id)
            for chunk in (_per_customer(chunks) if per_customer else chunks):
                yield format_chunk(chunk, cohort)

        return Table(name, header, count, read)

    journey = journey_of(cohort)
    # One query for every journey's tab; its columns: a course cohort's emails by kind (its
    # journey's kinds name no stage), a journey cohort's stage, due time and CSM.
    status = (reader("status", _status_rows, status_header(journey), per_customer=True) if journey.is_seed else
              reader("status", _journey_status_rows, HEADERS["journey_status"], per_customer=True))
    tables = {"status": status, "emails": reader("emails", _email_rows, HEADERS["emails"]),
              "quarantine": reader("quarantine", _quarantine_rows, HEADERS["quarantine"])}
    return {"would_send": reader("would_send", _would_send_rows, HEADERS["would_send"]), **tables} if dry_run else tables


def status_header(journey: Journey) -> list[str]:
    """A course cohort's status tab's header: the customer, then a column per email kind of its
    journey (the seed's, from its definition: Reminder, Cancellation, Welcome)."""
    return HEADERS["status"] + [kind.replace("_", " ").capitalize() for kind in journey.ledger_kinds()]


def _per_customer(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """The status query's rows (one per customer and email kind, a customer's together) as one
    row per customer, with ``emails``: kind -> (status, sent_at); a customer's rows may straddle
    two chunks, so the last customer of a chunk waits for the next."""
    pending: dict[str, Any] | None = None
    for chunk in chunks:
        done = []
        for r in chunk:
            if pending is None or pending["email"] != r["email"]:
                if pending is not None:
                    done.append(pending)
                pending = {**r, "emails": {}}
            if r["kind"] is not None:
                pending["emails"][r["kind"]] = (r["email_status"], r["email_sent_at"])
        if done:
            yield done
    if pending is not None:
        yield [pending]


def _journey_status_rows(chunk: list[dict[str, Any]], cohort: Cohort) -> list[list[str]]:
    times = {k: _local_times([r[k] for r in chunk], cohort) for k in ("signed_up_at", "entered_at", "due_at")}
    return [[r["email"], r["name"], r["status"], times["signed_up_at"][i], times["entered_at"][i], times["due_at"][i],
             f"{r['csm_name']} <{r['csm_email']}>" if r["csm_email"] else "", str(r["emails_sent"])]
            for i, r in enumerate(chunk)]


def _local_times(values: list[str | None], cohort: Cohort) -> list[str]:
    """Stored UTC times as the instructor reads them (in the cohort's zone), a chunk at a time."""
    import numpy as np
    import pandas as pd

    # Each distinct time formatted once (formatting is per element, and a chunk of sends shares
    # its sent_at): the codes put them back in place, a missing time (code -1) as "".
    codes, distinct = pd.factorize(pd.Series(values, dtype=object))
    times = pd.to_datetime(pd.Series(distinct, dtype=object), utc=True, format="ISO8601")
    text = times.dt.tz_convert(cohort.tz).dt.strftime("%Y-%m-%d %H:%M %Z").where(times.notna(), "")
    return np.append(text.to_numpy(dtype=object), "")[codes].tolist()


def _status_rows(chunk: list[dict[str, Any]], cohort: Cohort) -> list[list[str]]:
    kinds = journey_of(cohort).ledger_kinds()
    times = {k: _local_times([r[k] for r in chunk], cohort) for k in ("completed_at", "signed_up_at")}
    sent_at = {k: _local_times([r["emails"].get(k, (None, None))[1] for r in chunk], cohort) for k in kinds}

    def email(i: int, kind: str) -> str:
        status = chunk[i]["emails"].get(kind, (None, None))[0]
        if not status:
            return ""
        return f"sent {sent_at[kind][i]}" if status == "sent" and sent_at[kind][i] else status

    return [[r["email"], r["name"], words.standing_short(r["status"]), times["completed_at"][i],
             times["signed_up_at"][i], *(email(i, k) for k in kinds)]
            for i, r in enumerate(chunk)]


def _email_rows(chunk: list[dict[str, Any]], cohort: Cohort) -> list[list[str]]:
    sent_at = _local_times([r["sent_at"] for r in chunk], cohort)
    return [[sent_at[i], r["kind"], r["recipient"], r["recipient_name"], words.email_state(r["status"]),
             r["sent_run_id"] or "",
             r["decided_run_id"], r["provider_message_id"] or "", str(r["attempts"]), r["last_error"] or ""]
            for i, r in enumerate(chunk)]


def _would_send_rows(chunk: list[dict[str, Any]], cohort: Cohort) -> list[list[str]]:
    return [[r["kind"], r["email"], r["name"], r["reason"]] for r in chunk]


def _quarantine_rows(chunk: list[dict[str, Any]], cohort: Cohort) -> list[list[str]]:
    return [[r["source"], r["file"], str(r["source_row"]), r["column_name"], r["value"] or "", r["reason"],
             r["email"] or ""] for r in chunk]


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet program shows as text, never runs as a formula (OWASP's advice for
    CSV injection: a leading =, +, -, @, tab or carriage return gets a leading apostrophe)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def write_csv(tables: dict[str, Table], folder: Any) -> list[str]:
    """The tables as CSV files (UTF-8 with BOM, so Excel opens them right); rewritten each time.
    Cells that a spreadsheet would run as formulas are neutralised."""
    paths = []
    for name, table in tables.items():
        path = folder / f"{name}.csv"
        with storage.text_writer(path, encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(table.header)
            for rows in table.read():
                out.writerows([[spreadsheet_safe(str(c)) for c in row] for row in rows])
        paths.append(storage.display(path))
    return paths


def tab_title(cohort_id: str, table: str) -> str:
    return f"{cohort_id} {table}"


def write_sheet(client: Any, spreadsheet: str, cohort_id: str, tables: dict[str, Table]) -> dict[str, Any]:
    """Rewrite the cohort's tabs in the spreadsheet: one request reads its tabs, one sizes ours,
    then the values go in requests of ``SHEET_BATCH_ROWS`` rows.

    Each tab is sized to its table (header row frozen) and every cell of it written, so rows left
    from a longer earlier table disappear and a rerun leaves exactly the same tab. ``SheetTooLarge``
    when the spreadsheet would hold more than ten million cells: nothing is written then.
    """
    from onboarding.google_api import spreadsheet_key

    key = spreadsheet_key(spreadsheet)
    http = client.http_client
    meta = http.fetch_sheet_metadata(key)  # the spreadsheet's tabs
    existing = {s["properties"]["title"]: s["properties"] for s in meta["sheets"]}
    ours = {tab_title(cohort_id, n) for n in tables}
    grids = {n: (max(t.count + 1, 2), len(t.header)) for n, t in tables.items()}
    theirs = sum(p.get("gridProperties", {}).get("rowCount", 0) * p.get("gridProperties", {}).get("columnCount", 0)
                 for title, p in existing.items() if title not in ours)
    cells = theirs + sum(h * w for h, w in grids.values())
    if cells > SHEET_CELL_LIMIT:
        raise SheetTooLarge(f"the tables need {cells:,} cells with the spreadsheet's other tabs; a Google Sheet holds "
                            f"at most {SHEET_CELL_LIMIT:,}")
    requests = []
    for name in tables:
        title = tab_title(cohort_id, name)
        height, width = grids[name]
        # At least one row below the frozen header: Sheets refuses to freeze every row.
        grid = {"rowCount": height, "columnCount": width, "frozenRowCount": 1}
        if title in existing:
            requests.append({"updateSheetProperties": {
                "properties": {"sheetId": existing[title]["sheetId"], "gridProperties": grid},
                "fields": "gridProperties(rowCount,columnCount,frozenRowCount)"}})
        else:
            requests.append({"addSheet": {"properties": {"title": title, "gridProperties": grid}}})
    http.batch_update(key, {"requests": requests})  # add or size the tabs
    data: list[dict[str, Any]] = []
    pending = 0
    for name, table in tables.items():
        quoted = tab_title(cohort_id, name).replace("'", "''")
        height, width = grids[name]
        row = 1
        for rows in _padded(table, height, width):
            data.append({"range": f"'{quoted}'!A{row}", "values": rows})
            row += len(rows)
            pending += len(rows)
            if pending >= SHEET_BATCH_ROWS:
                http.values_batch_update(key, {"valueInputOption": "RAW", "data": data})
                data, pending = [], 0
    if data:
        http.values_batch_update(key, {"valueInputOption": "RAW", "data": data})
    return {"spreadsheet": f"https://docs.google.com/spreadsheets/d/{key}",
            "tabs": [tab_title(cohort_id, n) for n in tables], "rows": {n: t.count for n, t in tables.items()}}


def _padded(table: Table, height: int, width: int) -> Iterator[list[list[str]]]:
    """The table's rows, header first, every row ``width`` cells, blank rows down to ``height``."""
    written = 1
    yield [table.header + [""] * (width - len(table.header))]
    for rows in table.read():
        part = [list(r) + [""] * (width - len(r)) for r in rows]
        for start in range(0, len(part), SHEET_BATCH_ROWS):
            yield part[start:start + SHEET_BATCH_ROWS]
        written += len(rows)
    if written < height:
        yield [[""] * width for _ in range(height - written)]
