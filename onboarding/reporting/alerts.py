"""Alerting the data team when a task fails for good (and the cohort's instructor when the run
she asked for was refused at its start: the reason in one sentence, no traceback).

Airflow calls the DAG's ``on_failure_callback`` only when a task has no retries left (a retry
calls ``on_retry_callback``, which we do not set), so a task that fails twice and then succeeds
alerts nobody, and one that fails for good alerts once. The alert goes through the email ledger
keyed by DAG, run, task, map index and try, so a callback run twice for the same failure (the
task's own process, then the scheduler's check of a worker that vanished) still sends one email;
a task cleared and failing again is a new failure and alerts again.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Callable

from onboarding.addresses import normalised
from onboarding.cohorts import Cohort
from onboarding.delivery import messages
from onboarding.delivery.ledger import send_one
from onboarding.delivery.senders import SenderFactory, outbox_label
from onboarding.identity import EmailId
from onboarding.store import Store

log = logging.getLogger(__name__)

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
    refused: bool = False  # the run was refused at its start (her request made no sense): she is told too

    @property
    def key(self) -> str:
        return f"alert|{self.dag_id}|{self.run_id}|{self.task_id}|{self.map_index}|try-{self.try_number}"

    @property
    def task_label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


def recipients(configured: str | None, data_team: tuple[str, ...] = ()) -> list[str]:
    """Who hears of a failure: the ``onboarding_alert_to`` addresses, then the cohort's data team;
    each once, in that order."""
    found = [normalised(a) for a in (configured or "").replace(";", ",").split(",") if a.strip()]
    return list(dict.fromkeys(found + [normalised(a) for a in data_team]))


def message(failure: Failure, sender: str, to: list[str], tz, ref: str, sender_note: str | None = None
            ) -> EmailMessage:
    """The alert email: DAG, task, run, try, error and a link to the task's log; ``ref``: its
    reference, as the ledger gave it."""
    fields = {**failure.__dict__, "failed_at": f"{failure.failed_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"}
    content = messages.render("alert", **fields, task_label=failure.task_label, ref=ref, sender_note=sender_note)
    return messages.build_message(sender=sender, to_email=to[0], to_name="", content=content, ref=ref,
                                  cc=tuple(to[1:]))


def deliver(failure: Failure, cohort: Cohort | None, fallback: tuple[str | None, str | None], alert_to: str | None,
            alert_from: str | None, store: Callable[[], Store],
            email: Callable[[str], Callable[[], SenderFactory]]) -> None:
    """Email the failure to the data team (``alert_to`` and the failing cohort's ``data_team``)
    through the ledger, once per failure. The From is ``alert_from``, else ``fallback`` (the
    cohort's own sender, the sending account's address, or another cohort's: a pair of sender and
    cohort id); the alert then says so, so that a cohort whose own configuration is broken still
    reaches the data team."""
    to = recipients(alert_to, cohort.data_team if cohort else ())
    if failure.refused and cohort:
        # Her own request was refused: she is the one who can put it right, so she is told first.
        to = list(dict.fromkeys([cohort.instructor.lower(), *to]))
    sender, whose_id = (alert_from, None) if alert_from else fallback
    note = None
    if not alert_from and sender:
        whose = "this cohort's sender" if whose_id == failure.cohort_id else f"cohort {whose_id}'s sender"
        note = f"Sent from {whose}: the Airflow variable onboarding_alert_from is not set."
    if not to or not sender:
        # Nobody can be emailed (no recipient, or no valid From: the variable is unset and no cohort
        # of the file has a usable sender, as when the whole file is broken). The failure itself
        # must still be plain in the log, whole, with what to set; the Airflow run is red.
        log.error("FAILURE NOT ALERTED: %s failed (run %s, try %s): %s. No alert email was sent: no %s (set the "
                  "Airflow variable %s). Log: %s", failure.task_label, failure.run_id, failure.try_number,
                  failure.error, "recipient" if not to else "sender",
                  "onboarding_alert_to" if not to else "onboarding_alert_from", failure.log_url)
        return
    state = store()
    # One alert per failure: an email sent once per (DAG, run, task, map index, try).
    entry = state.ledger.plan_one(EmailId(failure.cohort_id or ALERT_COHORT, to[0], "alert", per_run_id=failure.key),
                                  failure.run_id, state.ledger.references())
    if entry is None:
        log.warning("failure alert for %s not sent: its recipient was erased", failure.key)
        return
    msg = message(failure, sender, to, cohort.tz if cohort else dt.timezone.utc, entry["ref"], note)
    outcome = send_one(state, email(cohort.email_connection if cohort else "onboarding_email")(),
                       f"{failure.run_id}/alert/{failure.task_id}/{failure.map_index}/try-{failure.try_number}",
                       failure.run_id, entry["email_key"],
                       lambda: (msg, outbox_label(failure.cohort_id or "_alerts", "alert", to[0])))
    log.info("failure alert for %s to %s: %s %s", failure.task_label, ", ".join(to), outcome.status, outcome.detail)
