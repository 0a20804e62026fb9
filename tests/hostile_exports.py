"""A corpus of hostile exports, each with the outcome it must have.

Written as an attacker and as a careless exporter would write them: RFC 2047 encoded words in
names and addresses, a 5,000-character and a 10 MB name, a column named like one of ours,
timestamps at the edge of what a computer can represent, inside a daylight-saving gap or twice
over at a fall-back, a completion before its signup, an address with a slash, a formula in a
name, a script in an email cell, and a cohort whose configuration has a typo'd key.

``tests/test_never_wrong.py`` runs them through the real DAG (``dag.test()``) on the night of 2
December 2026 (deadline 4 December, Sydney), every cohort at once, and checks each outcome.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

ENCODED_BCC = "=?utf-8?b?Qm9iDQpCY2M6IGJjY0BldmlsLmV4YW1wbGU=?="  # Bob\r\nBcc: bcc@evil.example
ENCODED_TO = "=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxlLCBSZWFs?="  # attacker@evil.example, Real
ENCODED_EMAIL = "=?utf-8?q?x=40evil.example=3e=00?=d17@example.org"  # x@evil.example> ...
HUGE = object()  # stands for a 10 MB cell, written when the case is
FORMULA = '=HYPERLINK("http://evil.example","click")'
SCRIPT = "<script>alert('xss')</script>"


@dataclass
class Case:
    signups: list[list]
    completions: list[list]
    cohort: dict = field(default_factory=dict)
    # (source, row, column) -> the start of the quarantine reason
    quarantined: dict[tuple[str, int, str], str] = field(default_factory=dict)
    reminders: set[str] = field(default_factory=set)  # who gets a reminder on 2 Dec
    held: set[str] = field(default_factory=set)  # customers held (a completion row quarantined)
    fails_with: str | None = None  # the cohort fails alone, with this in its error


CASES: dict[str, Case] = {
    "hostile-encoded": Case(
        signups=[["Email", "Name", "When"],
                 ["ok@c1.org", "Ann Ok", "2026-11-01T10:00"],
                 ["bob@c1.org", ENCODED_BCC, "2026-11-01T10:00"],
                 ["real@c1.org", ENCODED_TO, "2026-11-01T10:00"],
                 [ENCODED_EMAIL, "Dee", "2026-11-01T10:00"],
                 ["long@c1.org", "x" * 5000, "2026-11-01T10:00"],
                 [" Mixed@C1.org ", "Zoë \u202eevil\r\nBcc: x@evil.example", "2026-11-01T10:00"]],
        completions=[["Email", "Done"]],
        quarantined={("signups", 3, "Name"): "name contains an encoded word",
                     ("signups", 4, "Name"): "name contains an encoded word",
                     ("signups", 5, "Email"): "email address contains an encoded word",
                     ("signups", 6, "Name"): "name longer than 200 characters"},
        reminders={"ok@c1.org", "mixed@c1.org"}),
    "hostile-odd": Case(
        signups=[["Email", "Name", "When", "_row"],
                 ["a/b@c2.org", "Slash Person", "2026-11-01T10:00", "x"],
                 ["blank@c2.org", "Blank Time", "", "y"],
                 ["early@c2.org", "Early Year", "0001-01-01T00:00:00", ""],
                 ["future@c2.org", "Far Future", "9999-12-31T23:59:59-12:00", ""],
                 ["huge@c2.org", HUGE, "2026-11-01T10:00", ""],
                 ["done-early@c2.org", "Done Early", "2026-11-20T10:00", ""],
                 ["gap@c2.org", "Gap", "2026-11-01T10:00", ""],
                 ["twice@c2.org", "Twice", "2026-11-01T10:00", ""],
                 ["ok@c2.org", "Ok Person", "2026-11-01T10:00", ""],
                 [SCRIPT, "Script", "2026-11-01T10:00", ""],
                 ["formula@c2.org", FORMULA, "2026-11-01T10:00", ""]],
        completions=[["Email", "Done"],
                     ["done-early@c2.org", "2026-11-10T10:00"],
                     ["gap@c2.org", "2026-10-04T02:30"],
                     ["twice@c2.org", "2026-04-05T02:30"],
                     ["ok@c2.org", "2026-11-30T10:00"]],
        quarantined={("signups", 4, "When"): "implausible timestamp (before 2000)",
                     ("signups", 5, "When"): "implausible timestamp (more than a year after",
                     ("signups", 6, "Name"): "name longer than 200 characters",
                     ("signups", 11, "Email"): "invalid email address",
                     ("completions", 2, "Done"): "completed before the customer signed up",
                     ("completions", 3, "Done"): "local time that does not exist (2026-10-04 02:30 in Australia/Sydney",
                     ("completions", 4, "Done"): "ambiguous local time (2026-04-05 02:30 happens twice"},
        reminders={"a/b@c2.org", "blank@c2.org", "formula@c2.org"},
        held={"done-early@c2.org", "gap@c2.org", "twice@c2.org"}),
    "hostile-config": Case(
        signups=[["Email", "Name"], ["z@c3.org", "Zed"]],
        completions=[["Email", "Done"]],
        cohort={"reminder_day_before": 3},
        fails_with="unknown key(s) ['reminder_day_before']"),
}


def write(folder: Path, deadline: str = "2026-12-04") -> Path:
    """Every case as a cohort of one cohort file in ``folder``; returns the file."""
    import yaml

    cohorts = []
    for cid, case in CASES.items():
        d = folder / cid
        d.mkdir(parents=True, exist_ok=True)
        for role, rows in (("signups", case.signups), ("completions", case.completions)):
            with open(d / f"{role}.csv", "w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows([["x" * 10_000_000 if c is HUGE else c for c in r] for r in rows])
        signup_cols = {"email": "Email", "name": "Name"}
        if "When" in case.signups[0]:
            signup_cols["signed_up_at"] = "When"
        cohorts.append({"id": cid, "title": f"Hostile {cid}", "deadline": deadline, "timezone": "Australia/Sydney",
                        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu",
                        "data_team": ["data@example.edu"],
                        "sources": {"signups": {"type": "csv", "path": f"{cid}/signups.csv", "columns": signup_cols},
                                    "completions": {"type": "csv", "path": f"{cid}/completions.csv",
                                                    "columns": {"email": "Email", "completed_at": "Done"}}},
                        **case.cohort})
    path = folder / "cohorts.yaml"
    path.write_text(yaml.safe_dump({"defaults": {"guards": {"max_source_age": None}}, "cohorts": cohorts}))
    return path
