"""The words people read for the pipeline's states: one vocabulary for the summary email, the
report CSVs, the instructor's sheet and the Onboarding page, so that one person is never "late"
in one place, "not on time" in another and ``pending`` in a third."""
from __future__ import annotations

# A customer's standing as of a run (customer_status.status).
STANDING = {
    "on_time": "completed on time",
    "completed_late": "completed late",
    "missed": "missed the deadline",
    "pending": "not completed yet",
    "held": "on hold (a row naming them was quarantined)",
}
STANDING_SHORT = {
    "on_time": "on time",
    "completed_late": "completed late",
    "missed": "missed",
    "pending": "not yet",
    "held": "on hold",
}
# A run's outcome (runs.status).
RUN_STATUS = {
    "running": "running",
    "validated": "running (validated)",
    "decided": "decided, sending",
    "sent": "sent, reporting",
    "done": "done",
    "dry_run": "dry run (nothing sent)",
    "held": "held by a guard (nothing sent)",
    "failed": "failed",
}
# An email's state in the ledger.
EMAIL_STATE = {
    "pending": "waiting to be sent",
    "claimed": "being sent",
    "drafted": "being sent",
    "sent": "sent",
    "failed": "failed (will not be retried)",
    "unconfirmed": "not confirmed by Gmail",
    "bounced": "came back (bounced)",
    "superseded": "no longer due",
}


def standing(status: str | None) -> str:
    return STANDING.get(status or "", status or "")


def standing_short(status: str | None) -> str:
    return STANDING_SHORT.get(status or "", status or "")


def run_status(status: str | None) -> str:
    return RUN_STATUS.get(status or "", status or "")


def email_state(status: str | None) -> str:
    return EMAIL_STATE.get(status or "", status or "")
