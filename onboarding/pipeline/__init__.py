"""One cohort's nightly run, stage by stage. Each stage is one Airflow task; each reads what it
needs from the run folder and the state database, so any stage can be retried alone.

    extract -> validate -> decide -> send -> report

Before them, once a night for every cohort: ``read_mailbox`` (bounces and unsubscribe mails).

Each stage takes the state database (``Store``), the cohort, the run's context and the clients
it needs (handed in by the caller: ``onboarding.resources`` in Airflow, the tests' own in tests).
"""
from __future__ import annotations

from onboarding.pipeline.decide import decide
from onboarding.pipeline.extract import extract
from onboarding.pipeline.housekeeping import housekeep
from onboarding.pipeline.mailbox import read_mailbox
from onboarding.pipeline.report import report
from onboarding.pipeline.send import send
from onboarding.pipeline.validate import validate

__all__ = ["extract", "validate", "decide", "send", "report", "read_mailbox", "housekeep"]
