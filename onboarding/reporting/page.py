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

from onboarding.addresses import normalised
from onboarding.cohorts import Cohort, CohortFile
from onboarding.journeys import SEED_ID
from onboarding.languages import DEFAULT as DEFAULT_LANGUAGE, locale_language, strftime
from onboarding import words
from onboarding.reporting import charts
from onboarding.store import Store
from onboarding.store.analytics import PAGE_SIZE, CustomerFilter

FUNNEL_KEYS = ("signed_up", "reminded", "completed", "on_time", "completed_late", "missed", "pending", "held",
               "on_time_rate")  # a cohort's standings on the Cohorts page (v_funnel's)
SHORT_LIST = 20  # the first quarantined rows and orphans on the cohort page; the rest on their own pages
from onboarding.times import from_iso
from markupsafe import Markup

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
    journey: str = SEED_ID
    stage_titles: tuple[tuple[str, str], ...] = ()  # a journey's stages in order: (id, title)
    locale: str | None = None  # the cohort's locale: the page writes its dates in it (None: English)
    # Each owned stage's owner as people read it (a team's title, 'the instructor'): the timeline
    # marks a move between two owners as a handoff. From the cohort file only.
    stage_owners: tuple[tuple[str, str], ...] = ()

    @property
    def is_seed(self) -> bool:
        """A course cohort's facts (the seed journey's), which have no stages of their own to show."""
        return self.journey == SEED_ID

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def zone(self) -> "Local":
        """How the page writes the cohort's times: in its zone, its dates in its locale."""
        return Local(self.tz, locale_language(self.locale))

    @classmethod
    def of(cls, cohort: Cohort) -> "CohortFacts":
        spec = cohort.journey_spec
        return cls(cohort.id, cohort.title, cohort.timezone, cohort.deadline, cohort.deadline_at,
                   cohort.reminder_days_before, True, cohort.journey,
                   tuple((s.id, s.title) for s in spec.stages) if spec is not None and not spec.is_seed else (),
                   cohort.locale,
                   tuple((s.id, spec.owner_title(s.owner)) for s in spec.stages if s.owner)
                   if spec is not None else ())

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
                   int(c.get("reminder_days_before") or 0), False, c.get("journey") or SEED_ID,
                   tuple((s["id"], s.get("title") or s["id"]) for s in spec.get("stages") or ()
                         if isinstance(s, dict) and s.get("id")),
                   c.get("locale") if isinstance(c.get("locale"), str) else None)


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


@dataclass(frozen=True)
class Local:
    """A cohort's zone and the language its dates are written in (its ``locale``'s)."""

    tz: ZoneInfo
    lang: str = DEFAULT_LANGUAGE


def local(value: str | None, tz: "ZoneInfo | Local", fmt: str = "%a %d %b %Y %H:%M") -> str:
    """A stored UTC time as the cohort reads it ('' when there is none): in its zone, the day and
    month names in its locale's language when ``tz`` carries one (``CohortFacts.zone``)."""
    if not value:
        return ""
    zone, lang = (tz.tz, tz.lang) if isinstance(tz, Local) else (tz, DEFAULT_LANGUAGE)
    return strftime(from_iso(value).astimezone(zone), fmt, lang)


class PageReads:
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
        rows = {r["cohort_id"]: r for r in self.store.analytics.cohort_runs()}
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
            counts = None
            if r.get("decided_run_id"):  # the decided run's standings, from the kept figures
                fig = self.figures(cid)
                funnel = fig.get("funnel") or {}
                r = {**r, **{k: funnel.get(k) for k in FUNNEL_KEYS}}
                if not facts.is_seed:
                    counts = _journey_counts(fig.get("standings") or [])
            out.append({
                "id": cid, "title": facts.title, "timezone": facts.timezone,
                "deadline": _deadline_text(facts), "configured": facts.configured,
                "row": r, "last_run": r.get("last_run_id"), "last_as_of": local(r.get("last_as_of"), facts.zone),
                "last_status": r.get("last_status"), "last_status_text": words.run_status(r.get("last_status")),
                "has_docs": bool(r.get("last_data_docs")), "journey_counts": counts,
                "waits": self._waits(cid, r, not facts.is_seed),
            })
        return out

    def _waits(self, cohort_id: str, r: dict[str, Any], journey: bool = False) -> list[dict[str, str]]:
        """What waits on a person for this cohort, most urgent first (in a journey cohort, her
        share of the customers waiting on a person, as her summary counts them)."""
        waits = []
        status = r.get("last_status")
        if status == "held":
            waits.append({"what": "held", "text": "the last run was held by a guard and sent nothing: "
                          f"{r.get('last_error') or ''} If the export is right, release it on the cohort's page "
                          "(Release a hold) or from the trigger form."})
        elif status == "failed":
            waits.append({"what": "failed", "text": f"the last run failed: {r.get('last_error') or ''}"})
        last = r.get("last_run_id")
        if last:
            report = {x["run_id"]: x for x in self.store.analytics.runs(cohort_id, limit=1)}.get(last) or {}
            # Counted from the run's quarantine, as the cohort's page counts it (a run that stopped
            # before its report has no report row).
            quarantined = self.store.analytics.quarantine_count(last, cohort_id)
            if quarantined:
                waits.append({"what": "quarantine", "text": f"{quarantined} export row(s) quarantined: "
                              "fix them in the export"})
            if report.get("emails_waiting") or report.get("emails_failed"):
                waits.append({"what": "emails", "text": f"{report.get('emails_waiting') or 0} email(s) waiting, "
                              f"{report.get('emails_failed') or 0} failed"})
        if journey and r.get("decided_run_id"):
            for need in _needs(self.store.analytics.needs(r["decided_run_id"], cohort_id), None, 0, 0, 0, None):
                waits.append({"what": need["what"], "text": f"{need['n']} {need['text']}"})
        if r.get("held"):
            waits.append({"what": "customers", "text": f"{r['held']} customer(s) on hold until their quarantined "
                          "row is fixed"})
        bounced = self.store.analytics.hard_bounces(cohort_id)
        if bounced:
            waits.append({"what": "bounced", "text": f"{bounced} customer(s) whose address does not exist (a hard "
                          "bounce): ask them for another; nothing more is sent to it"})
        return waits

    # --- one cohort -----------------------------------------------------------------------------
    def figures(self, cohort_id: str, latest: dict[str, Any] | None = None) -> dict[str, Any]:
        """The cohort's figures (funnel, stages, reminders, where customers stand, hard bounces,
        its comparison row), computed from the views once per state of its latest decided run and
        ledger (``mark``) and kept in ``page_figures``: the views read every customer, so a
        request at 100,000 customers reads the kept row instead."""
        a = self.store.analytics
        latest = latest if latest is not None else a.latest_run(cohort_id)
        if not latest:
            return {}
        mark = FIGURES_VERSION + "|" + "|".join(str(latest.get(k) or "") for k in (
            "run_id", "as_of", "started_at", "status", "customers", "ledger_rows", "ledger_changed"))
        kept = a.kept_figures(cohort_id)
        if kept and kept["mark"] == mark:
            return json.loads(kept["figures"])
        figures = {
            "funnel": a.funnel(cohort_id), "stages": a.stages(cohort_id),
            "reminder_effect": a.reminder_effect(cohort_id), "standings": a.journey_standings(cohort_id),
            "journey_reminders": a.journey_reminders(cohort_id), "hard_bounces": a.hard_bounces(cohort_id),
            "versions": a.version_stages(cohort_id),
        }
        figures["comparison"] = _comparison_row(figures)
        from onboarding.times import iso, utcnow

        a.keep_figures(cohort_id, mark, json.dumps(figures, default=str), iso(utcnow()))
        return figures

    def cohort(self, cohort_id: str, search: str | None = None, page: int = 1,
               which: CustomerFilter | None = None, list_size: int = SHORT_LIST) -> dict[str, Any] | None:
        """One cohort's page: what needs her first (counts, each leading to its list), its CSMs,
        funnel, stages, reminders, one page of its customers (searched and filtered), the first
        quarantined rows and orphans of its last run, and its runs."""
        facts = self.facts(cohort_id)
        if facts is None:
            return None
        a = self.store.analytics
        which = which or CustomerFilter(search=search or "")
        latest = a.latest_run(cohort_id)
        fig = self.figures(cohort_id, latest)
        funnel, stages = fig.get("funnel"), fig.get("stages") or []
        decided = latest["run_id"] if latest else None
        total, customers = a.customers(cohort_id, which, page, run_id=decided) if decided else (0, [])
        page_emails = a.customers_emails(cohort_id, [c["email"] for c in customers])
        runs = a.runs(cohort_id)
        last = runs[0] if runs else None
        tz = facts.zone
        titles = dict(facts.stage_titles)
        journey = not facts.is_seed
        quarantined = a.quarantine_count(last["run_id"], cohort_id) if last else 0
        orphaned = a.orphans_count(last["run_id"], cohort_id) if last else 0
        needs = a.needs(decided, cohort_id) if decided and journey else []
        return {
            "facts": facts, "deadline": _deadline_text(facts), "journey": journey,
            "needs": _needs(needs, funnel, fig.get("hard_bounces") or 0, quarantined, orphaned, last),
            "csms": a.csms(decided, cohort_id) if decided and journey else [],
            "funnel": funnel, "funnel_rows": _funnel_rows(funnel),
            # A journey cohort: where its customers stand, stage by stage, instead of the seed's standings.
            "journey_rows": _journey_rows(fig.get("standings") or [], facts) if journey else [],
            "stages": [{**_stage(s), "title": titles.get(s["stage"], "")} for s in stages],
            "bottleneck": bottleneck(stages),
            "bottleneck_note": _bottleneck_note(stages),
            "map": self._map(cohort_id, fig) if journey else None,
            "versions": versions(fig.get("versions") or [], titles) if journey else None,
            "reminder": None if journey else _reminder(fig.get("reminder_effect"), tz),
            "journey_reminders": _journey_reminders(fig.get("journey_reminders") or [], titles, tz) if journey else None,
            "search": which.search, "filter": which, "filtered": which.active,
            "filter_text": _filter_text(which, titles),
            "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "total": total,
            "customers": [{**c, "standing": words.standing(c["status"]),
                           "emails": [{**e, "state": words.email_state(e["status"]),
                                       "sent": local(e["sent_at"], tz, "%d %b %H:%M")}
                                      for e in page_emails.get(c["email"], [])],
                           "signed_up": local(c["signed_up_at"], tz), "completed": local(c["completed_at"], tz)}
                          for c in customers],
            "runs": [{**r, "night": local(r["as_of"], tz), "status_text": words.run_status(r["status"]),
                      "error": r.get("error")} for r in runs],
            "last_run": last,
            "quarantine": a.quarantine(last["run_id"], cohort_id, list_size) if last else [],
            "quarantine_total": quarantined,
            "orphans": [{**o, "completed": local(o["completed_at"], tz)}
                        for o in (a.orphans(last["run_id"], cohort_id, list_size) if last else [])],
            "orphans_total": orphaned,
        }

    def _map(self, cohort_id: str, fig: dict[str, Any]) -> Markup | None:
        """The cohort's journey drawn from its journey file, each stage with tonight's figures
        (read with the page's other figures), a stage linking to its customers."""
        cohort = self.file.cohorts.get(cohort_id) if self.file else None
        if cohort is None or cohort.journey_spec is None or cohort.journey_spec.is_seed:
            return None  # a cohort no longer configured: its journey file is not at hand
        from urllib.parse import urlencode

        from onboarding.reporting import journey_map

        figures = journey_map.stage_figures(fig.get("stages") or [], fig.get("standings") or [])
        # A link relative to the cohort's own page: its customer list filtered to the stage.
        return Markup(journey_map.draw(cohort.journey_spec, figures,
                                       link=lambda sid: f"?{urlencode({'stage': sid})}#customers"))

    def problem_rows(self, cohort_id: str, what: str, page: int = 1) -> dict[str, Any] | None:
        """One page of the last run's quarantined rows (``what='quarantine'``) or completions with
        no signup (``'orphans'``)."""
        facts = self.facts(cohort_id)
        runs = self.store.analytics.runs(cohort_id, limit=1) if facts else []
        if facts is None or what not in ("quarantine", "orphans"):
            return None
        a, tz = self.store.analytics, facts.zone
        last = runs[0] if runs else None
        total = (a.quarantine_count if what == "quarantine" else a.orphans_count)(last["run_id"], cohort_id) if last else 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        rows = []
        if last:
            offset = (page - 1) * PAGE_SIZE
            rows = (a.quarantine(last["run_id"], cohort_id, PAGE_SIZE, offset) if what == "quarantine" else
                    [{**o, "completed": local(o["completed_at"], tz)}
                     for o in a.orphans(last["run_id"], cohort_id, PAGE_SIZE, offset)])
        return {"facts": facts, "what": what, "last_run": last, "night": local(last["as_of"], tz) if last else "",
                "rows": rows, "total": total, "page": page, "pages": pages}

    def charts(self, cohort_id: str) -> dict[str, dict[str, Any]]:
        """The cohort's chart specifications (funnel; completions per day)."""
        facts = self.facts(cohort_id)
        funnel = self.store.analytics.funnel(cohort_id)
        if facts is None or funnel is None:
            return {}
        times = self.store.analytics.completion_times(cohort_id)
        return {
            "funnel": (charts.stage_funnel_spec(self.store.analytics.stages(cohort_id), dict(facts.stage_titles))
                       if not facts.is_seed else charts.funnel_spec(funnel)),
            "completions": charts.completions_spec(charts.per_day(times["completed_at"], facts.tz),
                                                   _nights(times["reminded_at"]), facts.deadline_at, facts.tz),
        }

    def comparison(self) -> list[dict[str, Any]]:
        """Every cohort with a decided run side by side, newest first, from each cohort's kept
        figures. A journey cohort has no single deadline: its row counts those who finished the
        journey, dropped out (cancelled, rejected) or are still in it, its drop-off is its
        bottleneck stage's, and its on-time columns stay empty."""
        out = []
        for c in self.store.analytics.decided_cohorts():
            fig = self.figures(c["cohort_id"])
            r = fig.get("comparison")
            if not r:
                continue
            facts = self.facts(c["cohort_id"])
            journey = facts is not None and not facts.is_seed
            if journey:
                counts = _journey_counts(fig.get("standings") or [])
                done, dropped = counts["finished"], counts["dropped"]
                stages = fig.get("stages") or []
                worst = _losing_most(stages)  # the bottleneck's drop-off; of one stage, that one's
                r = {**r, "on_time": None, "completed_late": None, "missed": None, "on_time_rate": None,
                     "median_hours": None, "p90_hours": None, "reminder_lift": None,
                     "drop_off": worst["drop_off"] if worst else None,
                     "finished": done, "dropped": dropped,
                     "in_progress": counts["in_progress"],
                     "finished_rate": done / r["signed_up"] if r["signed_up"] else None}
            else:
                finished = (r["on_time"] or 0) + (r["completed_late"] or 0)
                r = {**r, "finished": finished, "dropped": r["missed"], "in_progress": r["pending"],
                     "finished_rate": finished / r["signed_up"] if r["signed_up"] else None}
            out.append({**r, "journey": journey, "on_time_pct": _pct(r["on_time_rate"]),
                        "finished_pct": _pct(r["finished_rate"]), "drop_off_pct": _pct(r["drop_off"]),
                        "median_days": _days(r["median_hours"]), "p90_days": _days(r["p90_hours"]),
                        "lift": _ratio(r["reminder_lift"]),
                        "lift_caveat": FEW_TEXT if r["reminder_lift"] is not None and r.get("lift_few_completions")
                        else None})
        out.sort(key=lambda r: r["cohort_id"])
        return sorted(out, key=lambda r: r["as_of"] or "", reverse=True)  # newest first; stable: by id on a tie

    # --- one customer ---------------------------------------------------------------------------
    def customer(self, cohort_id: str, email: str) -> dict[str, Any] | None:
        """One customer's timeline: for each night, their standing, the input rows it came from
        (file, row, snapshot hash), the decisions and the emails, and any quarantined row."""
        facts = self.facts(cohort_id)
        if facts is None:
            return None
        tz = facts.zone
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
                   "kind_text": _kind(e["kind"], facts),
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
        address = normalised(email)
        try:
            stops = self.store.suppressions.of_address(address, cohort_id)
            changes = self.store.suppressions.changes(address, cohort_id)
        except ValueError:  # an address no suppression could name ('<' or spaces in it): none applies
            stops, changes = [], []
        return {
            "facts": facts, "email": address, "name": name,
            "header": _header(h["nights"], emails, stops, tz, facts),
            "timeline": _timeline(h["nights"], nights, h["decisions"], emails, h["events"], changes, tz, facts,
                                  h.get("progress", [])),
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


def _kind(kind: str, facts: CohortFacts) -> str:
    """An email kind in plain words: a journey's ``details:details_form`` as "Tell us about your
    team: details form"."""
    stage, _, what = kind.rpartition(":")
    what = what.replace("_", " ")
    return f"{dict(facts.stage_titles).get(stage, stage.replace('_', ' '))}: {what}" if stage else what


def _standing(status: str | None, facts: CohortFacts) -> str:
    """A standing in plain words, a journey's ``details: in_stage`` as "Tell us about your team: in stage"."""
    stage, _, standing = (status or "").partition(": ")
    if standing:
        return f"{dict(facts.stage_titles).get(stage, stage)}: {standing.replace('_', ' ')}"
    return words.standing(status).replace("_", " ")


def _run_words(run_id: str, dry_run: bool = False) -> str:
    """Which kind of run it was, as she reads it (Airflow's run ids are technical)."""
    kind = run_id.split("__", 1)[0] if "__" in run_id else ""
    text = {"scheduled": "the nightly run", "manual": "a run someone started", "backfill": "a rerun of past nights",
            "asset_triggered": "a run started by new data"}.get(kind, "a run")
    return text + (", a dry run (nothing sent)" if dry_run else "")


def _header(raw_nights: list[dict[str, Any]], emails: list[dict[str, Any]], stops, tz: ZoneInfo,
            facts: CohortFacts) -> dict[str, Any]:
    """Her standing now and the dates that matter, for the top of her page."""
    last = raw_nights[-1] if raw_nights else {}
    signed = [n["signed_up_at"] for n in raw_nights if n.get("signed_up_at")]
    sent = [e for e in emails if e["status"] == "sent" and e["sent_at"]]
    latest = max(sent, key=lambda e: e["sent_at"]) if sent else None
    return {
        "status": last.get("status") or "", "standing": _standing(last.get("status"), facts) if last else "not in an export",
        "as_of": local(last.get("as_of"), tz, "%a %d %b %Y") if last else "",
        "signed_up": local(min(signed), tz, "%a %d %b %Y") if signed else "",
        "completed": local(last.get("completed_at"), tz, "%a %d %b %Y %H:%M") if last else "",
        "deadline": _deadline_text(facts),
        "last_email": f"{_kind(latest['kind'], facts)}, {local(latest['sent_at'], tz, '%a %d %b %Y')}" if latest else "",
        "stopped": [{"why": s.describe(), "reason": s.reason, "cohort": s.cohort_id} for s in stops],
    }


_OUTCOME = {
    "due": "to be sent", "blocked": "not sent", "failed_earlier": "not sent again (it failed on an earlier night)",
    "moment_passed": "no longer sent (its moment had passed)", "expired": "no longer sent (its moment had passed)",
    "held": "held (nothing sent that night)",
}


def _timeline(raw: list[dict[str, Any]], nights: list[dict[str, Any]], decisions: list[dict[str, Any]],
              emails: list[dict[str, Any]], events: list[dict[str, Any]], changes: list[dict[str, Any]],
              tz: ZoneInfo, facts: CohortFacts, progress: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Her story, newest first, one line per change: her standing when it changed, where her row
    came from when that changed, each email decided (not the nights it was "already sent"), sent,
    bounced or failed, each quarantined row, who stopped or restarted her emails, and how many of
    a stage's named evidences she had done when that changed ("Connect your tools: 3 of 5")."""
    lines: list[dict[str, Any]] = []

    def add(at: str | None, text: str, cls: str = "", detail: str = "", run: dict[str, Any] | None = None) -> None:
        lines.append({"at": at or "", "seq": len(lines), "when": local(at, tz), "text": text, "cls": cls, "detail": detail,
                      "run_id": run["run_id"] if run else "", "run": _run_words(run["run_id"], run.get("dry_run")) if run else ""})

    before: dict[str, Any] = {}
    seen: dict[str, str] = {}
    by_run: dict[str, list[dict[str, Any]]] = {}
    for d in decisions:
        by_run.setdefault(d["run_id"], []).append(d)
    for n, view in zip(raw, nights):
        at, run = n["as_of"], {"run_id": n["run_id"], "dry_run": bool(n["dry_run"])}
        source = "; ".join(f"{r['role'][:-1]} row {r['row']}" + (f" of {_file_name(r['file'])}" if r["file"] else "")
                           for r in view["rows"])
        if not before:
            add(at, f"First in the export: {_standing(n['status'], facts)}", "s-" + (n["status"] or ""), source, run)
        else:
            if n["status"] != before["status"]:
                add(at, f"Now {_standing(n['status'], facts)}", "s-" + (n["status"] or ""), source, run)
                handed = _handoff(before["status"], n["status"], facts)
                if handed:
                    add(at, handed, "s-handoff", "", run)
            elif source and before["source"] and source != before["source"]:
                add(at, "Her row in the export changed", "", source, run)
            if n["completed_at"] and n["completed_at"] != before["completed_at"]:
                add(at, f"Completed {local(n['completed_at'], tz)}", "s-done", "", run)
        for q in view["quarantine"]:
            add(at, f"A row naming her was set aside: {q['reason']}", "s-held",
                f"{q['source']} row {q['source_row']}, column “{q['column_name']}”", run)
        for d in by_run.get(n["run_id"], []):
            key = f"{d['kind']}|{d['outcome']}"
            if d["outcome"] == "already_sent" or seen.get(d["kind"]) == key:
                continue  # no change: the same decision as the night before
            seen[d["kind"]] = key
            add(at, f"{_kind(d['kind'], facts).capitalize()} email: {_OUTCOME.get(d['outcome'], d['outcome'].replace('_', ' '))}",
                "s-failed" if d["outcome"] == "blocked" else "", d["reason"] or "", run)
        before = {"status": n["status"], "source": source, "completed_at": n["completed_at"]}
    shown: dict[tuple[str, int], str] = {}
    for p in progress:
        done = [x for x in (p["evidence_done"] or "").split(", ") if x]
        if shown.get((p["stage"], p["visit"])) == p["evidence_done"]:
            continue  # the same count as the night before
        shown[(p["stage"], p["visit"])] = p["evidence_done"]
        title = dict(facts.stage_titles).get(p["stage"], p["stage"].replace("_", " "))
        add(p["as_of"], f"{title}: {len(done)} of {p['evidence_of']} done" + (f" ({', '.join(done)})" if done else ""),
            "", "", {"run_id": p["run_id"], "dry_run": False})
    for e in emails:
        if e["status"] == "sent" and e["sent_at"]:
            add(e["sent_at"], f"{_kind(e['kind'], facts).capitalize()} email sent" +
                (f" again: {e['requested_reason']}" if e.get("requested_reason") else ""), "s-done",
                "; ".join(x for x in (e.get("decided_reason"), "Gmail accepted it") if x), {"run_id": e["sent_run_id"] or "", "dry_run": False} if e["sent_run_id"] else None)
    for ev in events:
        event = ev["event"]
        if event.startswith("bounced") or event in ("failed", "unconfirmed"):
            hard = " (hard: the address does not exist)" if event == "bounced_hard" else ""
            add(ev["at"], f"{_kind(ev['kind'], facts).capitalize()} email {words.email_state(event.split('_')[0])}{hard}",
                "s-failed", "", {"run_id": ev["run_id"], "dry_run": False} if ev.get("run_id") else None)
    for c in changes:
        where = "in every cohort" if c["cohort_id"] == "*" else "in this cohort"
        text = "Emails stopped" if c["action"] == "stopped" else "Emails restarted"
        add(c["changed_at"], f"{text} {where} by {c['changed_by'] or 'someone'}", "s-held" if c["action"] == "stopped" else "s-done",
            c["note"] or "")
    # Newest first; within one moment, what followed first (a night's emails above its standing).
    lines.sort(key=lambda x: (from_iso(x["at"]) if x["at"] else dt.datetime.min.replace(tzinfo=dt.timezone.utc),
                              x.pop("seq")), reverse=True)
    return lines


def _handoff(was: str | None, now: str | None, facts: CohortFacts) -> str | None:
    """'Handed from Support to Customer success' when her stage moved from one owner's to
    another's (a night's status names her stage: ``<stage>: <standing>``)."""
    owners = dict(facts.stage_owners)
    before, after = (owners.get((x or "").partition(": ")[0]) for x in (was, now))
    if before and after and before != after:
        return f"Handed from {_capital(before)} to {after}"
    return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _file_name(path: str) -> str:
    return str(path or "").replace("\\", "/").rsplit("/", 1)[-1]


def _nights(instants) -> list[dt.datetime]:
    """The distinct moments in a column of times (the reminder nights of a cohort)."""
    import pandas as pd

    return [t.to_pydatetime() for t in pd.to_datetime(pd.Series(instants), utc=True).dropna().unique()]


def _deadline_text(facts: CohortFacts) -> str:
    if facts.deadline == dt.date.min:
        return ""
    end = facts.deadline_at - dt.timedelta(microseconds=1)
    return f"{strftime(end, '%a %d %b %Y %H:%M', locale_language(facts.locale))} ({facts.timezone})"


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
                     "status": r["status"],
                     "n": r["n"], "pct": _pct(r["n"] / total if total else None),
                     "key": (0 if stage else 1, order.get(stage, len(order)), stage, standing)})
    return [{k: v for k, v in r.items() if k != "key"} for r in sorted(rows, key=lambda r: r["key"])]


NEEDS_TEXT = {  # what waits on her, as "What needs you" says it (the summary's words)
    "awaiting_approval": "customer(s) wait for your approval",
    "waiting_for_csm": "customer(s) wait for a customer success manager with room",
    "overdue": "customer(s) overdue at a stage escalated to you, or rejected too often",
    "open_query": "customer query(ies) open too long or without a CSM",
}


def _needs(rows: list[dict[str, Any]], funnel: dict[str, Any] | None, bounced: int, quarantined: int,
           orphaned: int, last: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What needs her, most urgent first: each a count, what it is, and the list it leads to (the
    query of the customer list, or another page). The journey's counts are her share of who waits
    on a person (``waits_on = instructor``), as her summary counts them."""
    mine: dict[str, int] = {}
    for r in rows:
        if r["waits_on"] == "instructor":
            key = "overdue" if r["standing"] == "stuck" else r["standing"]
            mine[key] = mine.get(key, 0) + r["n"]
    out = []
    if last and last.get("status") in ("held", "failed"):
        out.append({"what": last["status"], "n": 1, "text": "the last run was " + (
            "held by a guard and sent nothing" if last["status"] == "held" else "failed") +
            (f": {last['error']}" if last.get("error") else ""), "list": None, "page": None})
    for key, text in NEEDS_TEXT.items():
        if mine.get(key):
            out.append({"what": key, "n": mine[key], "text": text, "page": None,
                        "list": {"needs": key, "on": "instructor"}, "approvals": key == "awaiting_approval"})
    held = (funnel or {}).get("held") or 0
    if held:
        out.append({"what": "held", "n": held, "text": "customer(s) on hold until a quarantined row naming them is fixed",
                    "list": {"standing": "held"}, "page": None})
    if quarantined:
        out.append({"what": "quarantine", "n": quarantined, "text": "quarantined export row(s) in the last run: "
                    "fix them in the export", "list": None, "page": "quarantine"})
    if orphaned:
        out.append({"what": "orphans", "n": orphaned, "text": "completion(s) with no signup in the last run",
                    "list": None, "page": "orphans"})
    if bounced:
        out.append({"what": "bounced", "n": bounced, "text": "customer(s) whose address does not exist (a hard "
                    "bounce): ask them for another", "list": None, "page": None})
    return out


def _comparison_row(fig: dict[str, Any]) -> dict[str, Any] | None:
    """The cohort's row of ``v_cohort_comparison``, from the views already read for its page (the
    view itself reads every cohort's customers again)."""
    f = fig.get("funnel")
    if not f:
        return None
    stage = next((s for s in fig.get("stages") or [] if s["stage"] == "onboarding"), {})
    return {**{k: f.get(k) for k in ("cohort_id", "run_id", "as_of", "signed_up", "reminded", "on_time",
                                     "completed_late", "missed", "pending", "held", "on_time_rate")},
            "median_hours": stage.get("median_hours"), "p90_hours": stage.get("p90_hours"),
            "drop_off": stage.get("drop_off"), "reminder_lift": (fig.get("reminder_effect") or {}).get("lift"),
            "lift_few_completions": (fig.get("reminder_effect") or {}).get("few_completions")}


def _journey_counts(standings: list[dict[str, Any]]) -> dict[str, int]:
    """A journey cohort's customers by where they are: finished (done), dropped out (cancelled,
    rejected), on hold, and in progress (in a stage: the rest)."""
    by = {r["status"]: r["n"] for r in standings}
    out = {"finished": by.get("done", 0), "dropped": by.get("cancelled", 0) + by.get("rejected", 0),
           "held": by.get("held", 0)}
    return {**out, "in_progress": sum(by.values()) - sum(out.values())}


def _journey_reminders(rows: list[dict[str, Any]], titles: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
    """A journey cohort's reminders sent so far, in all and by stage."""
    return {"sent": sum(r["sent"] for r in rows), "customers_by_stage": sum(r["customers"] for r in rows),
            "first": local(rows[0]["first_at"], tz) if rows else "",
            "stages": [{**r, "title": titles.get(r["stage"], r["stage"]), "last": local(r["last_at"], tz)}
                       for r in rows]}


def _filter_text(which: CustomerFilter, titles: dict[str, str]) -> str:
    """The customer list's filters in words ('' when it shows everyone)."""
    parts = []
    if which.needs:
        parts.append("waiting: " + ("anything" if which.needs == "any" else which.needs.replace("_", " ")) +
                     (f" (on the {which.waits_on})" if which.waits_on else ""))
    if which.standing:
        parts.append(f"standing: {which.standing.replace('_', ' ')}")
    if which.stage:
        parts.append(f"stage: {titles.get(which.stage, which.stage)}")
    if which.csm:
        parts.append(f"CSM: {which.csm}")
    return ", ".join(parts)


def versions(rows: list[dict[str, Any]], titles: dict[str, str]) -> dict[str, Any]:
    """The stages compared by journey version (v_run_versions, analytics_version_stages): per
    version its stages' counts, completion rate, cancellations and median time; a version's figure
    over fewer completions than ``FEW_COMPLETIONS`` says so (the reminder lift's rule)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["journey_version"], []).append(r)
    out = []
    for version, stages in groups.items():
        completed = sum(int(s["completed"] or 0) for s in stages)
        out.append({"version": version, "entered": sum(int(s["entered"] or 0) for s in stages),
                    "completed": completed, "few": completed < FEW_COMPLETIONS,
                    "stages": [{**s, "title": titles.get(s["stage"], s["stage"]),
                                "completion_pct": _pct((s["completed"] or 0) / s["entered"] if s["entered"] else None),
                                "median_days": _days(s["median_hours"]),
                                "few": (s["completed"] or 0) < FEW_COMPLETIONS} for s in stages]})
    return {"groups": out, "changed": len(out) > 1, "reliable_from": FEW_COMPLETIONS}


def _stage(s: dict[str, Any]) -> dict[str, Any]:
    """A stage's row; its times are over the completers who did it after it opened, and the row
    says how many did it before (a backlog seen at once: no time in the stage to measure)."""
    before = s.get("done_before_open") or 0
    return {**s, "conversion_pct": _pct(s["conversion"]), "drop_off_pct": _pct(s["drop_off"]),
            "median_days": _days(s["median_hours"]), "p90_days": _days(s["p90_hours"]),
            "timed_note": (f"times of {s.get('timed') or 0}; {before} had done it before the stage opened"
                           if before else "")}


def bottleneck(stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """v_bottleneck's rule, on the stages already read: of more than one stage, the one losing the
    largest share of those who entered it (the earliest on a tie); none when no stage lost anyone.
    One stage (a course) has nothing to compare with, so it is never "the bottleneck"."""
    if len(stages) < 2:
        return None
    worst = _losing_most(stages)
    return worst if worst["drop_off"] > 0 else None


def _losing_most(stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The stage losing the largest share of those who entered it, the earliest on a tie."""
    return min(stages, key=lambda s: (-s["drop_off"], s["stage_order"])) if stages else None


def _bottleneck_note(stages: list[dict[str, Any]]) -> str:
    if len(stages) == 1:
        return "One stage: no other to compare it with, so no bottleneck is named."
    if stages and bottleneck(stages) is None:
        return "No stage lost anyone: no bottleneck."
    return ""


def _reminder(r: dict[str, Any] | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if not r:
        return None
    return {**r, "night": local(r["reminder_at"], tz), "lift_text": _ratio(r["lift"]),
            # A ratio of a handful of completions moves a lot by chance: say so beside it.
            "lift_caveat": (f"{FEW_TEXT.capitalize()}: {r.get('completed_7d_before') or 0} completions in the 7 days before "
                            f"and {r.get('completed_48h_after') or 0} in the 48 hours after (fewer than "
                            f"{r['reliable_from']} on either side)."
                            if r.get("lift") is not None and r.get("few_completions") else None),
            "per_day_before_text": f"{r['per_day_before']:.1f}", "per_day_after_text": f"{r['per_day_after']:.1f}"}


def _row_ref(manifest: dict[str, Any], role: str, row: int) -> dict[str, Any]:
    """Which input row a night's standing came from: the export (as the run copied it), the row
    number in it (1 = the header) and the copy's sha256."""
    return {"role": role, "row": row, "file": (manifest.get("location") or manifest.get("path") or ""),
            "sha256": manifest.get("sha256") or ""}


# A lift over fewer completions than v_reminder_effect's reliable_from (30) in either window is a
# guess: the view says so (few_completions, migration 0031), the page says it in words.
FEW_TEXT = "few people, not a reliable figure"
FEW_COMPLETIONS = 30  # v_reminder_effect's reliable_from: the same rule for a version's figures
# Figures kept in page_figures by an older rule are worked out again (0031 added columns).
FIGURES_VERSION = "3"  # 3: the stages by journey version (issue 28)


def _pct(x: float | None) -> str:
    """A share as a whole percentage; one above nought never reads 0% (1 on hold of 308: "<1%"),
    nor one short of all 100% (307 of 308: ">99%")."""
    if x is None:
        return ""
    if 0 < x < 0.01 or 0.99 < x < 1:
        return "<1%" if x < 0.5 else ">99%"
    return f"{int(100 * x + 0.5)}%"  # half up: Python's round() takes 0.5 to 0


def _days(hours: float | None) -> str:
    return "" if hours is None else f"{hours / 24:.1f} d"


def _ratio(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"
