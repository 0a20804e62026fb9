"""Every error the onboarding package raises on purpose, in one place.

Two families matter to Airflow (``onboarding.airflow_tasks`` maps them, once):

- **stop now** (:class:`StopRun` and its subclasses): the input or the request is wrong, and trying
  again cannot help. The task fails at once without retrying; the instructor is told why.
- **try again** (everything else here): a server did not answer, a quota ran out, a sheet could
  not be written. The task fails and Airflow retries it; the ledger makes the retry safe.
"""
from __future__ import annotations


class StopRun(Exception):
    """Retrying cannot help: the task fails at once, with this message."""


class ConfigError(StopRun, ValueError):
    """The cohort configuration is invalid; the message names the file, cohort and key."""


class ParamsError(StopRun, ValueError):
    """A trigger-form parameter makes no sense (a typo in the form must not send anything)."""


class DatasetError(StopRun):
    """The whole export is unusable (unreadable, empty, a column missing): the cohort sends nothing."""


class ResendRefused(StopRun):
    """A resend asked for from the trigger form cannot be done as asked; nothing is sent."""


class RunHeld(StopRun):
    """A guard held the cohort's run: nothing was sent and the instructor must release it."""


class SourceUnavailable(Exception):
    """The source could not be reached right now (network, server, rate limit): a retry may work."""


class DeliveryIncomplete(Exception):
    """Some emails were refused temporarily until the attempts ran out: the task fails so that
    Airflow retries it (with backoff); each retry recovers before it resends."""


class SummaryNotSent(Exception):
    """The instructor's summary did not go out (refused, or its outcome unknown): the report task
    fails so that its retry sends it; the next summary says so if it never does."""


class SheetNotUpdated(Exception):
    """The instructor's Google Sheet could not be written; a retry of the report task rewrites it."""


class SheetTooLarge(Exception):
    """The instructor's tables would not fit in a Google Sheet (ten million cells): they are not
    written there, and her summary says so; a retry cannot help, so the task does not fail."""


class DeliveryError(Exception):
    """A send did not (provably) happen; ``permanent`` when retrying cannot help."""

    permanent = False


class TransientError(DeliveryError):
    """Rate limit, server error, timeout: the outcome is unclear or the refusal temporary."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Refused for good (an invalid recipient): recorded as failed, the batch goes on."""

    permanent = True


class Throttled(Exception):
    """Gmail asked us to wait longer than we may: stop the batch, leave the rest due."""


class UnsafeMessage(Exception):
    """A built email is not exactly what the code meant to send (a recipient or header it did not
    set, a header line too long): it is never sent."""
