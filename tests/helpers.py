"""Builders shared by the tests."""
from __future__ import annotations

import datetime as dt

from onboarding.config import Cohort, SourceConfig
from onboarding.guards import GuardConfig

NO_GUARDS = GuardConfig(max_source_age=None, max_completion_shrink=None, max_cancel_share=None)

SYD = "Australia/Sydney"


def make_cohort(**over) -> Cohort:
    base = dict(
        id="c1", title="Test Cohort", deadline=dt.date(2026, 12, 4), timezone=SYD,
        sender="Team <team@example.edu>", instructor="boss@example.edu",
        signups=SourceConfig("signups", "csv", {"email": "Email", "name": "Name", "signed_up_at": "When"},
                             {"path": "signups.csv"}),
        completions=SourceConfig("completions", "csv", {"email": "Email", "completed_at": "Done"},
                                 {"path": "completions.csv"}),
        guards=NO_GUARDS,
    )
    base.update(over)
    return Cohort(**base)


def local(y, m, d, hh=6, mm=0, tz=SYD) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz))
