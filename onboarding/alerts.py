"""Alerting the data team when a task fails for good.

Airflow calls the DAG's ``on_failure_callback`` only when a task has no retries left (a retry
calls ``on_retry_callback``, which we do not set), so a task that fails twice and then succeeds
alerts nobody, and one that fails for good alerts once. The alert goes through the email ledger
keyed by DAG, run, task, map index and try, so a callback run twice for the same failure (the
task's own process, then the scheduler's check of a worker that vanished) still sends one email;
a task cleared and failing again is a new failure and alerts again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage

from onboarding import emails
from onboarding.decisions import email_ref

ALERT_COHORT = "-"  # the ledger's cohort column for a failure that belongs to no cohort (the plan task)


@dataclass(frozen=True)
class Failure:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    log_url: str
    error: str
    failed_at: dt.datetime
    cohort_id: str | None = None

    @property
    def key(self) -> str:
        return f"alert|{self.dag_id}|{self.run_id}|{self.task_id}|{self.map_index}|try-{self.try_number}"

    @property
    def task_label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


def recipients(configured: str | None, data_team: tuple[str, ...] = ()) -> list[str]:
    """Who hears of a failure: the ``onboarding_alert_to`` addresses, then the cohort's data team;
    each once, in that order."""
    found = [a.strip().lower() for a in (configured or "").replace(";", ",").split(",") if a.strip()]
    return list(dict.fromkeys(found + [a.lower() for a in data_team]))


def message(failure: Failure, sender: str, to: list[str], tz) -> EmailMessage:
    """The alert email: DAG, task, run, try, error and a link to the task's log."""
    ref = email_ref(failure.key)
    fields = {**failure.__dict__, "failed_at": f"{failure.failed_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"}
    content = emails.render("alert", **fields, task_label=failure.task_label, ref=ref)
    return emails.build_message(sender=sender, to_email=to[0], to_name="", content=content, ref=ref,
                                cc=tuple(to[1:]))
