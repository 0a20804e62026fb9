"""``suppressions``: who must not be emailed (see ``onboarding.consent``)."""
from __future__ import annotations

from typing import Any

from onboarding.consent import REASONS, Suppression, normalise_suppression as normalise
from onboarding.times import iso, utcnow


class Suppressions:
    def __init__(self, store):
        self._s = store

    def add(self, address: str, reason: str, source: str, cohort_id: str = "*", added_by: str | None = None,
            note: str | None = None) -> str | None:
        """Suppress an address or '@domain' (for one cohort, or '*' for all); returns it as kept.
        A person erased from that cohort (or from everything) is not written back: nothing is
        stored (their erasure's hash already keeps them from every email) and None is returned."""
        if reason not in REASONS:
            raise ValueError(f"unknown suppression reason {reason!r}; one of {list(REASONS)}")
        kept = normalise(address)
        if not kept.startswith("@") and self._s.erasures.erased(kept, cohort_id or "*"):
            return None
        self._s.execute("suppression_upsert", {"address": kept, "cohort_id": cohort_id or "*", "reason": reason,
                                               "source": source, "added_by": added_by, "note": note,
                                               "now": iso(utcnow())})
        return kept

    def remove(self, address: str, cohort_id: str = "*") -> int:
        return self._s.execute("suppression_delete", {"address": normalise(address), "cohort_id": cohort_id or "*"})

    def of_address(self, address: str, cohort_id: str = "*") -> list[Suppression]:
        """The entries that keep one address from a cohort's emails ('*': from any cohort's): its
        own and its domain's."""
        kept = normalise(address)
        return [_entry(r) for r in self._s.rows("suppressions_of_address", address=kept,
                                                 domain="@" + kept.rpartition("@")[2], cohort_id=cohort_id or "*")]

    def log_change(self, address: str, cohort_id: str, action: str, reason: str, by: str | None,
                   note: str | None) -> None:
        """The page's audit of a stop ('stopped') or restart ('restarted') of a person's emails."""
        self._s.execute("suppression_change_insert", {"address": normalise(address), "cohort_id": cohort_id or "*",
                                                      "action": action, "reason": reason, "changed_by": by,
                                                      "note": note, "now": iso(utcnow())})

    def changes(self, address: str, cohort_id: str) -> list[dict[str, Any]]:
        """Who stopped or restarted one person's emails (for the cohort or every cohort), oldest first."""
        return self._s.rows("suppression_changes_of", address=normalise(address), cohort_id=cohort_id)

    def for_cohort(self, cohort_id: str) -> list[Suppression]:
        return [_entry(r) for r in self._s.rows("suppressions_for_cohort", cohort_id=cohort_id)]

    def all(self) -> list[dict[str, Any]]:
        return self._s.rows("suppressions_all")


def _entry(r: dict[str, Any]) -> Suppression:
    return Suppression(r["address"], r["reason"], r["source"], r["cohort_id"], r["created_at"])
