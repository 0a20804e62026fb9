"""What the Onboarding page and the data team read: the analytics views of ``include/sql``
(migrations 0007-0009: ``v_funnel``, ``v_stage_funnel``, ``v_bottleneck``, ``v_reminder_effect``,
``v_cohort_comparison``, on ``v_customer_journey``) and one customer's whole history.

Every method reads; none writes. Lists are paged or capped, so a page costs the same for a cohort
of 100 or of 100,000.
"""
from __future__ import annotations

from typing import Any

PAGE_SIZE = 100  # customers per page of the cohort's table
LIST_LIMIT = 200  # rows of the quarantine, orphans and runs lists on a page


def like_pattern(search: str | None) -> str:
    """A search box's text as a LIKE pattern on lower-case text that finds it anywhere; ``%``,
    ``_`` and ``!`` in the text match themselves (escaped with ``!``, the queries' ESCAPE)."""
    text = (search or "").strip().lower()
    for ch in "!%_":
        text = text.replace(ch, "!" + ch)
    return f"%{text}%"


class Analytics:
    def __init__(self, store):
        self._s = store

    def cohorts(self) -> list[dict[str, Any]]:
        """Every cohort with a run: its latest run's outcome and its latest decided standings."""
        return self._s.rows("analytics_cohorts")

    def funnel(self, cohort_id: str) -> dict[str, Any] | None:
        return (self._s.rows("analytics_funnel", cohort_id=cohort_id) or [None])[0]

    def stages(self, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows("analytics_stages", cohort_id=cohort_id)

    def journey_standings(self, cohort_id: str) -> list[dict[str, Any]]:
        """A journey cohort's customers of its latest run, counted by where they stand."""
        return self._s.rows("analytics_journey_standings", cohort_id=cohort_id)

    def bottleneck(self, cohort_id: str) -> dict[str, Any] | None:
        return (self._s.rows("analytics_bottleneck", cohort_id=cohort_id) or [None])[0]

    def reminder_effect(self, cohort_id: str) -> dict[str, Any] | None:
        return (self._s.rows("analytics_reminder_effect", cohort_id=cohort_id) or [None])[0]

    def comparison(self) -> list[dict[str, Any]]:
        return self._s.rows("analytics_comparison")

    def completion_times(self, cohort_id: str):
        """The cohort's completion times and reminder nights (UTC), as a table."""
        return self._s.frame("analytics_completion_times", times=("completed_at", "reminded_at"), cohort_id=cohort_id)

    def customers(self, cohort_id: str, search: str | None = None, page: int = 1,
                  page_size: int = PAGE_SIZE) -> tuple[int, list[dict[str, Any]]]:
        """How many customers match ``search`` (email or name), and one page of them by name."""
        pattern = like_pattern(search)
        total = self._s.scalar("analytics_customers_count", cohort_id=cohort_id, pattern=pattern)
        rows = self._s.rows("analytics_customers", cohort_id=cohort_id, pattern=pattern,
                            page_size=page_size, page_offset=max(page - 1, 0) * page_size)
        return total, rows

    def customers_emails(self, cohort_id: str, emails: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The emails of a page of customers (one query for the page), by customer."""
        import sqlalchemy as sa

        from onboarding.store import db

        if not emails:
            return {}
        statement = db.sql("analytics_customers_emails").bindparams(sa.bindparam("emails", expanding=True))
        out: dict[str, list[dict[str, Any]]] = {}
        with self._s.connection() as conn:
            for r in conn.execute(statement, {"cohort_id": cohort_id, "emails": list(emails)}).mappings():
                out.setdefault(r["email"], []).append(dict(r))
        return out

    def customer(self, cohort_id: str, email: str) -> dict[str, list[dict[str, Any]]]:
        """Everything the pipeline saw and did for one customer: each night's standing and input
        rows, every decision, every email with its events, and their quarantined rows."""
        params = {"cohort_id": cohort_id, "email": email.strip().lower()}
        return {
            "nights": self._s.rows("analytics_customer_nights", **params),
            "decisions": self._s.rows("analytics_customer_decisions", **params),
            "emails": self._s.rows("analytics_customer_emails", **params),
            "events": self._s.rows("analytics_customer_events", **params),
            "quarantine": self._s.rows("analytics_customer_quarantine", **params),
            "csm": self._s.rows("analytics_customer_csm", **params),
        }

    def hard_bounces(self, cohort_id: str) -> int:
        """How many of the cohort's customers have an address that bounced hard (and nothing delivered since)."""
        return int(self._s.scalar("analytics_hard_bounces", cohort_id=cohort_id) or 0)

    def runs(self, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._s.rows("analytics_runs", cohort_id=cohort_id, list_limit=limit)

    def quarantine(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._s.rows("analytics_quarantine", run_id=run_id, cohort_id=cohort_id, list_limit=limit)

    def orphans(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._s.rows("analytics_orphans", run_id=run_id, cohort_id=cohort_id, list_limit=limit)
