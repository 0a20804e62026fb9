"""A worksheet of a Google Sheet (a form's responses, a roster), read with gspread."""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onboarding.configmodel import Text, whole
from onboarding.errors import DatasetError, SourceUnavailable
from onboarding.sources import snapshot
from onboarding.sources.config import SourceConfig, SourceSpec
from onboarding.sources.snapshot import Snapshot
from onboarding.sources.table import column_letter, records_to_frame, serial_to_datetime

if TYPE_CHECKING:
    import pandas as pd

    from onboarding.sources import SourceClients

log = logging.getLogger(__name__)


class SheetSpec(SourceSpec):
    """A google_sheet source in the cohort file: ``spreadsheet`` (id or URL), ``worksheet``
    (default the first), ``header_row`` (default 1) and ``connection`` (default
    ``onboarding_google``)."""

    type: Literal["google_sheet"] = "google_sheet"
    spreadsheet: Text
    """Id or URL."""
    worksheet: Text | None = None
    """Title (default: the first)."""
    header_row: whole(1, 1_000_000, " (a row number)") | None = None
    """Row of the header (default 1)."""
    connection: Text | None = None
    """Default onboarding_google."""


class GoogleSheetSource:
    """A worksheet of a Google Sheet (a form's responses, a roster), read with gspread.

    Options: ``spreadsheet`` (id or URL), ``worksheet`` (title; default the first), ``header_row``
    (default 1, for sheets with a title above the header) and ``connection`` (the Airflow
    connection with the Google credentials; default ``onboarding_google``). Cells are read
    unformatted, so a date the sheet shows in any format arrives as its serial number and is
    turned into an exact date-time (local to the source's zone); a cell covered by a merged range
    (only its top-left cell holds the value) quarantines its row with the range named.
    """

    DEFAULT_CONNECTION = "onboarding_google"

    def __init__(self, config: SourceConfig, clients: "SourceClients | None" = None):
        self.config = config
        if not config.options.get("spreadsheet"):
            raise DatasetError(f"{config.role} source: a google_sheet source needs 'spreadsheet' (id or URL)")
        self.clients = clients
        header_row = config.options.get("header_row", 1)
        if not isinstance(header_row, int) or header_row < 1:
            raise DatasetError(f"{config.role} source: header_row must be a row number (1 or more)")
        self.header_row = header_row

    @property
    def location(self) -> str:
        return self.config.location

    def _client(self):
        conn_id = self.config.options.get("connection", self.DEFAULT_CONNECTION)
        if self.clients is None:
            raise DatasetError(f"{self.location}: no connections were handed to this source")
        try:
            return self.clients.sheets(conn_id)
        except LookupError as exc:
            raise DatasetError(f"{self.location}: Airflow connection {conn_id!r} not found ({exc})") from None
        except ValueError as exc:
            raise DatasetError(f"{self.location}: {exc}") from None

    def snapshot(self, dest_dir: Any) -> Snapshot:
        def fill(tmp: Path) -> str | None:
            import requests
            from gspread.exceptions import APIError, SpreadsheetNotFound, WorksheetNotFound
            from gspread.utils import DateTimeOption, ValueRenderOption

            from onboarding.google_api import spreadsheet_key

            try:
                key = spreadsheet_key(str(self.config.options["spreadsheet"]))
            except ValueError as exc:
                raise DatasetError(f"{self.location}: {exc}") from None
            try:
                book = self._client().open_by_key(key)
                title = self.config.options.get("worksheet")
                try:
                    ws = book.worksheet(title) if title else book.get_worksheet(0)
                except WorksheetNotFound:
                    names = [w.title for w in book.worksheets()]
                    raise DatasetError(f"{self.location}: no worksheet named {title!r}; the spreadsheet has "
                                       f"{names}") from None
                values = ws.get(value_render_option=ValueRenderOption.unformatted,
                                date_time_render_option=DateTimeOption.serial_number)
                meta = book.fetch_sheet_metadata({"includeGridData": "false",
                                                  "fields": "sheets(properties(sheetId,title),merges)"})
                merges = next((s.get("merges", []) for s in meta["sheets"]
                               if s["properties"]["sheetId"] == ws.id), [])
                try:
                    modified = book.get_lastUpdateTime()
                except APIError as exc:
                    # The Drive scope is optional; without it the freshness guard cannot judge this sheet.
                    log.warning("%s: last-modified time not readable (%s); the stale_source guard skips it",
                                self.location, exc.response.status_code)
                    modified = None
            except APIError as exc:
                code = exc.response.status_code
                if code == 404:
                    raise DatasetError(f"{self.location}: spreadsheet not found (check the id or URL)") from None
                if code in (401, 403):
                    raise DatasetError(f"{self.location}: access refused ({code}): share the spreadsheet with "
                                       f"the connection's account, or grant it the Sheets scopes") from None
                raise SourceUnavailable(f"{self.location}: Google Sheets answered {code}: {exc}") from exc
            except SpreadsheetNotFound:
                raise DatasetError(f"{self.location}: spreadsheet not found (check the id or URL)") from None
            except PermissionError:
                raise DatasetError(f"{self.location}: access refused (403): share the spreadsheet with the "
                                   f"connection's account") from None
            except requests.RequestException as exc:
                raise SourceUnavailable(f"{self.location}: Google Sheets did not answer: {exc}") from exc
            doc = {"spreadsheet_id": key, "worksheet": ws.title, "sheet_id": ws.id,
                   "value_render_option": "UNFORMATTED_VALUE", "date_time_render_option": "SERIAL_NUMBER",
                   "values": values, "merges": merges}
            tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=0), encoding="utf-8")
            if modified:
                return dt.datetime.fromisoformat(modified.replace("Z", "+00:00")).astimezone(dt.timezone.utc).isoformat()
            return None

        return snapshot.take(dest_dir, self.config.role, ".sheet.json", "google_sheet", self.location, fill)

    def read(self, snap: Snapshot) -> "pd.DataFrame":
        doc = json.loads(snap.read_bytes().decode("utf-8"))
        where = f"{snap.location} (snapshot {snap.path})"
        values: list[list[Any]] = doc.get("values") or []
        start = self.header_row - 1
        if len(values) <= start:
            raise DatasetError(f"{where}: the worksheet has no header row (row {self.header_row} is empty)")
        header = [str(h).strip() for h in values[start]]
        stamp_headers = {self.config.columns[f] for f in ("signed_up_at", "completed_at") if f in self.config.columns}
        stamp_cols = {i for i, h in enumerate(header) if h in stamp_headers}
        records = [[_cell(v, i in stamp_cols) for i, v in enumerate(row)] for row in values[start:]]
        # Merged cells: the value sits in the range's top-left cell only; the other rows it spans
        # would read as empty. Name the range instead of letting the row read as "missing".
        mapped = {h for h in self.config.columns.values()}
        problems: dict[int, tuple[str, str]] = {}
        for m in doc.get("merges") or []:
            r0, r1 = m.get("startRowIndex", 0), m.get("endRowIndex", 0)
            c0, c1 = m.get("startColumnIndex", 0), m.get("endColumnIndex", 0)
            a1 = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1 - 1)}{r1}"
            cols = [header[c] for c in range(c0, min(c1, len(header))) if header[c] in mapped]
            if not cols:
                continue
            for r in range(max(r0, start + 1), r1):
                row_number = r + 1
                if (r, c0) == (r0, c0) and r == r0:
                    continue  # the top-left cell holds the value
                problems.setdefault(row_number, (cols[0], f"cell is inside merged cells {a1}; only the first "
                                                            f"row of a merged range holds a value (unmerge and "
                                                            f"fill each row)"))
        return records_to_frame(records, where, snap.role, header_row=self.header_row, problems=problems)


def _cell(value: Any, is_timestamp: bool) -> str:
    """One unformatted cell as text: a number in a timestamp column is a date serial number."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if is_timestamp:
            return serial_to_datetime(value).isoformat()
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return "" if value is None else str(value)
