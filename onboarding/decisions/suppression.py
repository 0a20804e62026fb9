"""The suppression rule: an entry of the list (``onboarding.consent``) stops every email to its
address or domain, except an unsubscribe, which stops marketing only. A suppressed email is never
silently dropped: its decision says so and why, and the instructor's summary lists it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from onboarding.consent import Suppression


def find(email: str, entries: dict[str, Suppression]) -> Suppression | None:
    """The entry suppressing ``email``: the address itself, else its domain."""
    return entries.get(email) or entries.get("@" + email.rpartition("@")[2])


def stops(entry: Suppression, email_class: str) -> bool:
    """Whether an entry stops an email of this class: an unsubscribe stops marketing only."""
    return entry.reason != "unsubscribed" or email_class == "marketing"


def stopping(email: str, kind: str, index: dict[str, Suppression], classes: dict[str, str]) -> Suppression | None:
    """The entry of ``index`` (address -> entry) that stops this email, if any."""
    entry = find(email, index)
    return entry if entry is not None and stops(entry, classes.get(kind, "transactional")) else None


def with_cohort_file(listed: list[Suppression], cohort_id: str, addresses: tuple[str, ...]) -> list[Suppression]:
    """The list's entries for a cohort and the cohort file's own ``suppress:`` addresses."""
    return [*listed, *(Suppression(a, "manual", "the cohort file", cohort_id) for a in addresses)]


def apply(decisions: pd.DataFrame, entries: list[Suppression], classes: dict[str, str],
          sendable: tuple[str, ...]) -> pd.DataFrame:
    """Mark every sendable decision whose address is suppressed for its kind's class as
    ``suppressed``, with the entry as the reason."""
    if not entries or decisions.empty:
        return decisions
    index = {e.address: e for e in entries}
    hits = [stopping(email, kind, index, classes) if outcome in sendable else None
            for email, kind, outcome in decisions[["email", "kind", "outcome"]].itertuples(index=False)]
    mask = np.array([h is not None for h in hits], dtype=bool)
    if mask.any():
        decisions = decisions.copy()
        decisions.loc[mask, "outcome"] = "suppressed"
        decisions.loc[mask, "reason"] = [f"not sent: {h.describe()}" for h in hits if h is not None]
    return decisions


def require_consent(decisions: pd.DataFrame, customers: pd.DataFrame, classes: dict[str, str],
                    sendable: tuple[str, ...], wording: str | None = None) -> pd.DataFrame:
    """A marketing email goes only to a customer whose signup recorded consent (the signup
    export's ``consent`` column); without one it is ``no_consent``, with the reason."""
    marketing = [k for k, c in classes.items() if c == "marketing"]
    if not marketing or decisions.empty:
        return decisions
    consent = dict(zip(customers["email"], customers["consent"])) if "consent" in customers else {}
    given = decisions["email"].map(lambda e: consent.get(e) == 1).to_numpy(dtype=bool)
    mask = decisions["kind"].isin(marketing).to_numpy() & decisions["outcome"].isin(sendable).to_numpy() & ~given
    if mask.any():
        decisions = decisions.copy()
        decisions.loc[mask, "outcome"] = "no_consent"
        decisions.loc[mask, "reason"] = ("not sent: no recorded consent to marketing emails"
                                         + (f" (consent wording {wording})" if wording else ""))
    return decisions
