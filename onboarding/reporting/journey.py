"""The customer journey as the Onboarding page shows it: each cohort's standing and what waits
on a person, one cohort's funnel, stages, reminder effect and customers, and one customer's
timeline night by night ("why did she get this email" in one page).

Everything here reads the state database through ``store.analytics`` and the cohort
configuration; times are shown in the cohort's own zone, in the words of ``onboarding.words``.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from onboarding.cohorts import Cohort, CohortFile
from onboarding import words
from onboarding.reporting import charts
from onboarding.store import Store
from onboarding.store.analytics import PAGE_SIZE
from onboarding.times import from_iso

DAG_ID = "onboarding_nightly"


@dataclass(frozen=True)
class CohortFacts:
    """What a page needs of a cohort's configuration: from the cohort file, or (for a cohort no
    longer in it) from what its latest run recorded."""

    id: str
    title: str
    timezone: str
    deadline: dt.date
    deadline_at: dt.datetime
    reminder_days_before: int
    configured: bool
    journey: str = "seed"
    stage_titles: tuple[tuple[str, str], ...] = ()  # a journey's stages in order: (id, title)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def of(cls, cohort: Cohort) -> "CohortFacts":
        spec = cohort.journey_spec
        return cls(cohort.id, cohort.title, cohort.timezone, cohort.deadline, cohort.deadline_at,
                   cohort.reminder_days_before, True, cohort.journey,
                   tuple((s.id, s.title) for s in spec.stages) if spec is not None and cohort.journey != "seed" else ())

    @classmethod
    def recorded(cls, cohort_id: str, inputs: str | None) -> "CohortFacts":
        c = (json.loads(inputs) if inputs else {}).get("cohort") or {}
        tz = c.get("timezone") or "UTC"
        deadline = dt.date.fromisoformat(c["deadline"]) if c.get("deadline") else dt.date.min
        grace = _duration(c.get("grace_period"))
        end = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(0), ZoneInfo(tz)) + grace \
            if deadline != dt.date.min else dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        spec = c.get("journey_spec") or {}
        return cls(cohort_id, c.get("title") or cohort_id, tz, deadline, end,
                   int(c.get("reminder_days_before") or 0), False, c.get("journey") or "seed",
                   tuple((s["id"], s.get("title") or s["id"]) for s in spec.get("stages") or ()
                         if isinstance(s, dict) and s.get("id")))


def _duration(text: str | None) -> dt.timedelta:
    """``str(timedelta)`` back to a timedelta ('2:00:00', '1 day, 0:00:00')."""
    if not text:
        return dt.timedelta(0)
    days = 0
    if "day" in text:
        head, text = text.split(",", 1)
        days = int(head.split()[0])
    h, m, s = (float(x) for x in text.strip().split(":"))
    return dt.timedelta(days=days, hours=h, minutes=m, seconds=s)


def local(value: str | None, tz: ZoneInfo, fmt: str = "%a %d %b %Y %H:%M") -> str:
    """A stored UTC time as the cohort reads it ('' when there is none)."""
    if not value:
        return ""
    return from_iso(value).astimezone(tz).strftime(fmt)


class Journey:
    """The Onboarding page's reads, for one state database and one cohort file."""

    def __init__(self, store: Store, cohort_file: CohortFile | None):
        self.store = store
        self.file = cohort_file
        self._recorded: dict[str, str | None] = {}

    # --- cohorts --------------------------------------------------------------------------------
    def facts(self, cohort_id: str) -> CohortFacts | None:
        if self.file and cohort_id in self.file.cohorts:
            return CohortFacts.of(self.file.cohorts[cohort_id])
        runs = self.store.analytics.runs(cohort_id, limit=1)
        if not runs:
            return None
        inputs = self.store.runs.get(runs[0]["run_id"], cohort_id).get("inputs")
        return CohortFacts.recorded(cohort_id, inputs)

    def cohorts(self) -> list[dict[str, Any]]:
        """Every configured cohort and every cohort with a run: deadline, standings, the last run
        and its outcome, and what waits on a person."""
        rows = {r["cohort_id"]: r for r in self.store.analytics.cohorts()}
        ids = list(self.file.order if self.file else ()) + sorted(set(rows) - set(self.file.order if self.file else ()))
        out = []
        for cid in ids:
            if self.file and cid in self.file.broken:
                out.append({"id": cid, "title": cid, "broken": self.file.broken[cid], "waits": [
                    {"what": "configuration", "text": f"the cohort file has a problem: {self.file.broken[cid]}"}]})
                continue
            facts = self.facts(cid)
            if facts is None:
                continue
            r = rows.get(cid, {})
            out.append({
                "id": cid, "title": facts.title, "timezone": facts.timezone,
                "deadline": _deadline_text(facts), "configured": facts.configured,
                "row": r, "last_run": r.get("last_run_id"), "last_as_of": local(r.get("last_as_of"), facts.tz),
                "last_status": r.get("last_status"), "last_status_text": words.run_status(r.get("last_status")),
                "has_docs": bool(r.get("last_data_docs")),
                "waits": self._waits(cid, r),
            })
        return out

    def _waits(self, cohort_id: str, r: dict[str, Any]) -> list[dict[str, str]]:
        """What waits on a person for this cohort, most urgent first."""
        waits = []
        status = r.get("last_status")
        if status == "held":
            waits.append({"what": "held", "text": "the last run was held by a guard and sent nothing: "
                          f"{r.get('last_error') or ''} Release it from the trigger form if the export is right."})
        elif status == "failed":
            waits.append({"what": "failed", "text": f"the last run failed: {r.get('last_error') or ''}"})
        last = r.get("last_run_id")
        if last:
            report = {x["run_id"]: x for x in self.store.analytics.runs(cohort_id, limit=1)}.get(last) or {}
            if report.get("quarantined_rows"):
                waits.append({"what": "quarantine", "text": f"{report['quarantined_rows']} export row(s) quarantined: "
                              "fix them in the export"})
            if report.get("emails_waiting") or report.get("emails_failed"):
                waits.append({"what": "emails", "text": f"{report.get('emails_waiting') or 0} email(s) waiting, "
                              f"{report.get('emails_failed') or 0} failed"})
        if r.get("held"):
            waits.append({"what": "customers", "text": f"{r['held']} customer(s) on hold until their quarantined "
                          "row is fixed"})
        bounced = self.store.analytics.hard_bounces(cohort_id)
        if bounced:
            waits.append({"what": "bounced", "text": f"{bounced} customer(s) whose address does not exist (a hard "
                          "bounce): ask them for another; nothing more is sent to it"})
        return waits

    # --- one cohort -----------------------------------------------------------------------------
    def cohort(self, cohort_id: str, search: str | None = None, page: int = 1) -> dict[str, Any] | None:
        facts = self.facts(cohort_id)
        if facts is None:
            return None
        a = self.store.analytics
        funnel = a.funnel(cohort_id)
        stages = a.stages(cohort_id)
        total, customers = a.customers(cohort_id, search, page)
        page_emails = a.customers_emails(cohort_id, [c["email"] for c in customers])
        runs = a.runs(cohort_id)
        last = runs[0] if runs else None
        tz = facts.tz
        titles = dict(facts.stage_titles)
        return {
            "facts": facts, "deadline": _deadline_text(facts),
            "funnel": funnel, "funnel_rows": _funnel_rows(funnel),
            # A journey cohort: where its customers stand, stage by stage, instead of the seed's standings.
            "journey_rows": _journey_rows(a.journey_standings(cohort_id), facts) if facts.journey != "seed" else [],
            "stages": [{**_stage(s), "title": titles.get(s["stage"], "")} for s in stages],
            # v_bottleneck's rule, on the stages already read: the largest drop-off, the earliest on a tie.
            # A one-stage journey (the seed) has no stage to compare with: none is "the bottleneck".
            "bottleneck": min(stages, key=lambda s: (-s["drop_off"], s["stage_order"])) if len(stages) > 1 else None,
            "reminder": _reminder(a.reminder_effect(cohort_id), tz),
            "search": search or "", "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "total": total,
            "customers": [{**c, "standing": words.standing(c["status"]),
                           "emails": [{**e, "state": words.email_state(e["status"]),
                                       "sent": local(e["sent_at"], tz, "%d %b %H:%M")}
                                      for e in page_emails.get(c["email"], [])],
                           "signed_up": local(c["signed_up_at"], tz), "completed": local(c["completed_at"], tz),
                           "reminded": local(c["reminded_at"], tz, "%d %b"),
                           "cancelled": local(c["cancelled_at"], tz, "%d %b"),
                           "welcomed": local(c["welcomed_at"], tz, "%d %b")} for c in customers],
            "runs": [{**r, "night": local(r["as_of"], tz), "status_text": words.run_status(r["status"]),
                      "error": r.get("error")} for r in runs],
            "last_run": last,
            "quarantine": a.quarantine(last["run_id"], cohort_id) if last else [],
            "orphans": [{**o, "completed": local(o["completed_at"], tz)}
                        for o in (a.orphans(last["run_id"], cohort_id) if last else [])],
        }

    def charts(self, cohort_id: str) -> dict[str, dict[str, Any]]:
        """The cohort's chart specifications (funnel; completions per day)."""
        facts = self.facts(cohort_id)
        funnel = self.store.analytics.funnel(cohort_id)
        if facts is None or funnel is None:
            return {}
        times = self.store.analytics.completion_times(cohort_id)
        return {
            "funnel": (charts.stage_funnel_spec(self.store.analytics.stages(cohort_id), dict(facts.stage_titles))
                       if facts.journey != "seed" else charts.funnel_spec(funnel)),
            "completions": charts.completions_spec(charts.per_day(times["completed_at"], facts.tz),
                                                   _nights(times["reminded_at"]), facts.deadline_at, facts.tz),
        }

    def comparison(self) -> list[dict[str, Any]]:
        return [{**r, "on_time_pct": _pct(r["on_time_rate"]), "drop_off_pct": _pct(r["drop_off"]),
                 "median_days": _days(r["median_hours"]), "p90_days": _days(r["p90_hours"]),
                 "lift": _ratio(r["reminder_lift"])} for r in self.store.analytics.comparison()]

    # --- one customer ---------------------------------------------------------------------------
    def customer(self, cohort_id: str, email: str) -> dict[str, Any] | None:
        """One customer's timeline: for each night, their standing, the input rows it came from
        (file, row, snapshot hash), the decisions and the emails, and any quarantined row."""
        facts = self.facts(cohort_id)
        if facts is None:
            return None
        tz = facts.tz
        h = self.store.analytics.customer(cohort_id, email)
        if not (h["nights"] or h["emails"] or h["quarantine"]):
            return None
        decisions: dict[str, list[dict[str, Any]]] = {}
        for d in h["decisions"]:
            decisions.setdefault(d["run_id"], []).append(d)
        quarantined: dict[str, list[dict[str, Any]]] = {}
        for q in h["quarantine"]:
            quarantined.setdefault(q["run_id"], []).append(q)
        emails = [{**e, "state": words.email_state(e["status"]), "sent": local(e["sent_at"], tz),
                   "planned": local(e["created_at"], tz)} for e in h["emails"]]
        sent_by_run: dict[str, list[dict[str, Any]]] = {}
        for e in emails:
            if e["sent_run_id"] and e["status"] == "sent":
                sent_by_run.setdefault(e["sent_run_id"], []).append(e)
        nights = []
        for n in h["nights"]:
            manifests = json.loads(n["inputs"] or "{}")
            nights.append({
                "run_id": n["run_id"], "night": local(n["as_of"], tz), "run_status": words.run_status(n["run_status"]),
                "dry_run": bool(n["dry_run"]), "standing": words.standing(n["status"]),
                "completed": local(n["completed_at"], tz),
                "rows": [_row_ref(manifests.get(role) or {}, role, n[f"{role[:-1]}_row"])
                         for role in ("signups", "completions") if n[f"{role[:-1]}_row"] is not None],
                "decisions": decisions.get(n["run_id"], []),
                "sent": sent_by_run.get(n["run_id"], []),
                "quarantine": quarantined.pop(n["run_id"], []),
            })
        # Her name as the latest night that knew her recorded it (her newest signup).
        name = h["nights"][-1]["name"] if h["nights"] else ""
        return {
            "facts": facts, "email": email.strip().lower(), "name": name,
            "nights": nights,
            # Quarantined rows of runs that did not know the customer (a signup row that never
            # passed): shown on their own.
            "other_quarantine": [q for rows in quarantined.values() for q in rows],
            "emails": emails,
            "events": [{**e, "when": local(e["at"], tz, "%d %b %Y %H:%M:%S")} for e in h["events"]],
            "csm": [{**a, "since": local(a["assigned_at"], tz)} for a in h["csm"]][:1],
        }

    def data_docs(self, cohort_id: str, run_id: str) -> str | None:
        """Where the run's GX Data Docs site is (its index page), if it rendered one."""
        for r in self.store.analytics.runs(cohort_id):
            if r["run_id"] == run_id:
                return r.get("data_docs")
        return None


def _nights(instants) -> list[dt.datetime]:
    """The distinct moments in a column of times (the reminder nights of a cohort)."""
    import pandas as pd

    return [t.to_pydatetime() for t in pd.to_datetime(pd.Series(instants), utc=True).dropna().unique()]


def _deadline_text(facts: CohortFacts) -> str:
    if facts.deadline == dt.date.min:
        return ""
    end = facts.deadline_at - dt.timedelta(microseconds=1)
    return f"{end:%a %d %b %Y %H:%M} ({facts.timezone})"


def _funnel_rows(funnel: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The funnel as the page's table: each step, its count and its share of signups."""
    if not funnel:
        return []
    n = funnel["signed_up"] or 0
    return [{"key": key, "label": label, "n": funnel.get(key) or 0,
             "pct": _pct((funnel.get(key) or 0) / n if n else None)} for key, label in charts.FUNNEL_STEPS]


def _journey_rows(standings: list[dict[str, Any]], facts: CohortFacts) -> list[dict[str, Any]]:
    """A journey cohort's customers by where they stand (``<stage>: <standing>``), in the
    journey's order, then those who left it (done, cancelled, rejected, held); with shares."""
    order = {sid: i for i, (sid, _) in enumerate(facts.stage_titles)}
    titles = dict(facts.stage_titles)
    total = sum(r["n"] for r in standings) or 0
    rows = []
    for r in standings:
        stage, _, standing = r["status"].partition(": ")
        if not standing:  # no longer in a stage
            stage, standing = "", stage
        rows.append({"stage": stage, "title": titles.get(stage, stage), "standing": standing.replace("_", " "),
                     "n": r["n"], "pct": _pct(r["n"] / total if total else None),
                     "key": (0 if stage else 1, order.get(stage, len(order)), stage, standing)})
    return [{k: v for k, v in r.items() if k != "key"} for r in sorted(rows, key=lambda r: r["key"])]


def _stage(s: dict[str, Any]) -> dict[str, Any]:
    return {**s, "conversion_pct": _pct(s["conversion"]), "drop_off_pct": _pct(s["drop_off"]),
            "median_days": _days(s["median_hours"]), "p90_days": _days(s["p90_hours"])}


def _reminder(r: dict[str, Any] | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if not r:
        return None
    compared = (r.get("completed_7d_before") or 0) + (r.get("completed_48h_after") or 0)
    return {**r, "night": local(r["reminder_at"], tz), "lift_text": _ratio(r["lift"]),
            # A ratio of a few dozen completions moves a lot by chance: say so beside it.
            "lift_caveat": (f"Only {compared} completions are compared (reminders to {r.get('reminded') or 0} "
                            "customers): a difference this size may be chance."
                            if r.get("lift") is not None and compared < FEW_COMPARED else None),
            "per_day_before_text": f"{r['per_day_before']:.1f}", "per_day_after_text": f"{r['per_day_after']:.1f}"}


def _row_ref(manifest: dict[str, Any], role: str, row: int) -> dict[str, Any]:
    """Which input row a night's standing came from: the export (as the run copied it), the row
    number in it (1 = the header) and the copy's sha256."""
    return {"role": role, "row": row, "file": (manifest.get("location") or manifest.get("path") or ""),
            "sha256": manifest.get("sha256") or ""}


# Fewer completions than this around a reminder make its lift a guess (the page says so).
FEW_COMPARED = 100


def _pct(x: float | None) -> str:
    """A share as a whole percentage; one above nought never reads 0% (1 on hold of 308: "<1%")."""
    if x is None:
        return ""
    return "<1%" if 0 < x < 0.005 else f"{100 * x:.0f}%"


def _days(hours: float | None) -> str:
    return "" if hours is None else f"{hours / 24:.1f} d"


def _ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"
