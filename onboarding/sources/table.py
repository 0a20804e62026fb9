"""Every source hands validation the same thing: a table of strings, one row per record, numbered
as a spreadsheet shows it (the header is row 1), with a few internal columns beside the export's."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from onboarding.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

ROW = "_row"  # column holding each record's row number in its file
OVERFLOW = "_overflow"  # True where a record has more fields than the header
PROBLEM = "_problem"  # a source-specific reason to quarantine the row (None when fine)
PROBLEM_COLUMN = "_problem_column"  # the column that reason concerns
INTERNAL_COLUMNS = (ROW, OVERFLOW, PROBLEM, PROBLEM_COLUMN)

# Spreadsheets count days from 1899-12-30 (Lotus 1-2-3's leap-year bug included).
SERIAL_EPOCH = dt.datetime(1899, 12, 30)


def serial_to_datetime(value: float) -> dt.datetime:
    """A spreadsheet date-time serial number (days since 1899-12-30) as a naive local datetime."""
    return SERIAL_EPOCH + dt.timedelta(seconds=round(float(value) * 86400))


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names a column."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def records_to_frame(records: list[list[str]], where: str, role: str, header_row: int = 1,
                     problems: dict[int, tuple[str, str]] | None = None) -> "pd.DataFrame":
    """A table of strings from a header row and its records, numbered as a spreadsheet shows them.

    ``records[0]`` is the header, on row ``header_row``; the records follow it, one row each.
    Blank records (trailing empty rows, blank lines) are skipped but still counted. A blank header
    cell is named after its column letter, so it can be reported; ``problems`` maps a row number to
    a (column, reason) that quarantines the row (a source-specific problem such as a merged cell).
    """
    import pandas as pd

    if not records or not any(str(f).strip() for f in records[0]):
        raise DatasetError(f"{where}: the {role} export has no header row (row {header_row} is empty)")
    header = [str(h).strip() or f"(blank header, column {column_letter(i)})" for i, h in enumerate(records[0])]
    # An export column that happens to share a name with one of ours keeps its data, renamed.
    header = [f"{h} (export column {column_letter(i)})" if h in INTERNAL_COLUMNS else h for i, h in enumerate(header)]
    rows, numbers, overflow, problem_col, problem = [], [], [], [], []
    for number, rec in enumerate(records[1:], start=header_row + 1):
        if not any(str(f).strip() for f in rec):
            continue
        overflow.append(len(rec) > len(header) and any(str(f).strip() for f in rec[len(header):]))
        rows.append((list(rec) + [""] * len(header))[: len(header)])
        numbers.append(number)
        col, reason = (problems or {}).get(number, (None, None))
        problem_col.append(col)
        problem.append(reason)
    df = pd.DataFrame(rows, columns=header, dtype=object)
    df.insert(0, ROW, numbers)
    df[OVERFLOW] = overflow
    df[PROBLEM_COLUMN] = problem_col
    df[PROBLEM] = problem
    return df
