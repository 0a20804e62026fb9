"""What the Onboarding page and the data team read: the analytics views of ``include/sql``
(migrations 0007-0009: ``v_funnel``, ``v_stage_funnel``, ``v_bottleneck``, ``v_reminder_effect``,
``v_cohort_comparison``, on ``v_customer_journey``) and one customer's whole history.

Every method reads, except ``keep_figures`` (the page's derived figures, migration 0024). Lists are
paged or capped, and the customer lists read one run's rows by index, so a page costs about the
same for a cohort of 100 or of 100,000.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 100  # customers per page of the cohort's table
LIST_LIMIT = 200  # rows of the quarantine, orphans and runs lists on a page
NEEDS = ("awaiting_approval", "waiting_for_csm", "overdue", "open_query", "any")  # what a customer waits for


@dataclass(frozen=True)
class CustomerFilter:
    """Which of a cohort's customers a list shows ('' for any): a search of email or name, a
    standing as stored ('missed', 'details: overdue'), a journey stage (any standing in it), a
    CSM's address, what they wait for (``NEEDS``) and on whom (instructor, csm)."""

    search: str = ""
    standing: str = ""
    stage: str = ""
    csm: str = ""
    needs: str = ""
    waits_on: str = ""

    def params(self) -> dict[str, str]:
        stage = self.stage.strip()
        for ch in "!%_":
            stage = stage.replace(ch, "!" + ch)
        return {"pattern": like_pattern(self.search), "standing": self.standing.strip(),
                "stage": f"{stage}: %" if stage else "", "csm": self.csm.strip().lower(),
                "needs": self.needs if self.needs in NEEDS else "", "waits_on": self.waits_on.strip()}

    @property
    def active(self) -> bool:
        return any((self.search.strip(), self.standing, self.stage, self.csm, self.needs, self.waits_on))


def like_pattern(search: str | None) -> str:
    """A search box's text as a LIKE pattern on lower-case text that finds it anywhere; ``%``,
    ``_`` and ``!`` in the text match themselves (escaped with ``!``, the queries' ESCAPE)."""
    text = (search or "").strip().lower()
    for ch in "!%_":
        text = text.replace(ch, "!" + ch)
    return f"%{text}%"


# A cohort's standings as ``v_funnel`` counts them (``funnel``), beside its runs in ``cohorts``.
FUNNEL = ("signed_up", "reminded", "completed", "on_time", "completed_late", "missed", "pending", "held",
          "on_time_rate")


class Analytics:
    def __init__(self, store):
        self._s = store

    def cohorts(self) -> list[dict[str, Any]]:
        """Every cohort with a run: its latest run's outcome (``cohort_runs``) and its latest
        decided standings (``funnel``; None where it has none)."""
        out = []
        for r in self.cohort_runs():
            funnel = self.funnel(r["cohort_id"]) or {}
            out.append({**r, **{k: funnel.get(k) for k in FUNNEL}})
        return out

    def cohort_runs(self) -> list[dict[str, Any]]:
        """Every cohort with a run: its latest run's outcome and its latest decided run (no standings)."""
        return self._s.rows("analytics_cohort_runs")

    def decided_cohorts(self) -> list[dict[str, Any]]:
        """Every cohort with a decided run, and that run."""
        return self._s.rows("analytics_decided_cohorts")

    def funnel(self, cohort_id: str) -> dict[str, Any] | None:
        return (self._s.rows("analytics_funnel", cohort_id=cohort_id) or [None])[0]

    def stages(self, cohort_id: str) -> list[dict[str, Any]]:
        return self._s.rows("analytics_stages", cohort_id=cohort_id)

    def version_stages(self, cohort_id: str) -> list[dict[str, Any]]:
        """A journey cohort's stages by the journey version in force when each customer entered
        them (the first run that walked them in it): entered, completed, dropped, median hours."""
        return self._s.rows("analytics_version_stages", cohort_id=cohort_id)

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

    def latest_run(self, cohort_id: str) -> dict[str, Any] | None:
        """The cohort's latest decided run, and the state of the data its figures come from."""
        return (self._s.rows("analytics_latest_run", cohort_id=cohort_id) or [None])[0]

    def kept_figures(self, cohort_id: str) -> dict[str, Any] | None:
        return (self._s.rows("analytics_figures_get", cohort_id=cohort_id) or [None])[0]

    def keep_figures(self, cohort_id: str, mark: str, figures: str, made_at: str) -> None:
        """Keep the page's figures of a cohort for the state (``mark``) they were computed from."""
        self._s.execute("analytics_figures_put", {"cohort_id": cohort_id, "mark": mark, "figures": figures,
                                                  "made_at": made_at})

    def customers(self, cohort_id: str, which: CustomerFilter | str | None = None, page: int = 1,
                  page_size: int = PAGE_SIZE, run_id: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """How many customers of the cohort's latest decided run (or ``run_id``) match (a
        ``CustomerFilter``, or a search text), and one page of them by name."""
        if run_id is None:
            run_id = (self.latest_run(cohort_id) or {}).get("run_id")
        if run_id is None:
            return 0, []
        if not isinstance(which, CustomerFilter):
            which = CustomerFilter(search=which or "")
        params = {"cohort_id": cohort_id, "run_id": run_id, **which.params()}
        rows = self._s.rows("analytics_customers", **params, page_size=page_size,
                            page_offset=max(page - 1, 0) * page_size)
        if not rows and page > 1:  # a page past the last: the count comes with the first row
            first = self._s.rows("analytics_customers", **params, page_size=1, page_offset=0)
            return (first[0]["total"] if first else 0), []
        return (rows[0]["total"] if rows else 0), [{k: v for k, v in r.items() if k != "total"} for r in rows]

    def needs(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Customers waiting on a person after the run, by what for and on whom."""
        return self._s.rows("analytics_needs", run_id=run_id, cohort_id=cohort_id)

    def csms(self, run_id: str, cohort_id: str) -> list[dict[str, Any]]:
        """Each CSM's customers in the run, and how many of them wait on a person."""
        return self._s.rows("analytics_csms", run_id=run_id, cohort_id=cohort_id)

    def journey_reminders(self, cohort_id: str) -> list[dict[str, Any]]:
        """A journey cohort's reminders sent, by stage."""
        return self._s.rows("analytics_journey_reminders", cohort_id=cohort_id)

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
            "progress": self._s.rows("analytics_customer_progress", **params),
        }

    def hard_bounces(self, cohort_id: str) -> int:
        """How many of the cohort's customers have an address that bounced hard (and nothing delivered since)."""
        return int(self._s.scalar("analytics_hard_bounces", cohort_id=cohort_id) or 0)

    def runs(self, cohort_id: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        return self._s.rows("analytics_runs", cohort_id=cohort_id, list_limit=limit)

    def quarantine(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT, offset: int = 0) -> list[dict[str, Any]]:
        return self._s.rows("analytics_quarantine", run_id=run_id, cohort_id=cohort_id, list_limit=limit,
                            list_offset=offset)

    def quarantine_count(self, run_id: str, cohort_id: str) -> int:
        return int(self._s.scalar("analytics_quarantine_count", run_id=run_id, cohort_id=cohort_id) or 0)

    def orphans(self, run_id: str, cohort_id: str, limit: int = LIST_LIMIT, offset: int = 0) -> list[dict[str, Any]]:
        return self._s.rows("analytics_orphans", run_id=run_id, cohort_id=cohort_id, list_limit=limit,
                            list_offset=offset)

    def orphans_count(self, run_id: str, cohort_id: str) -> int:
        return int(self._s.scalar("analytics_orphans_count", run_id=run_id, cohort_id=cohort_id) or 0)
