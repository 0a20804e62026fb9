"""What a run did, read back from the state database: for the instructor's summary email, the
task log and the demo's printout. Everything comes from the database, so the report of a run can
be rebuilt at any time from its records."""
from __future__ import annotations

import json
from typing import Any

from onboarding.cohorts import Cohort
from onboarding.decisions import journey_of
from onboarding.delivery import feedback
from onboarding.store import Store
from onboarding.store.reports import LIST_LIMIT
from onboarding.times import from_iso

_PROBLEM_STATES = ("failed", "unconfirmed", "claimed", "drafted", "pending")
LISTS = ("sent", "would_send", "waiting", "blocked", "suppressed")
# How many people of each list the HTML summary names (read on a phone); the text part names up to
# ``LIST_LIMIT``, and every list is whole in the attached CSVs and on the Onboarding page.
SHOWN = 5


def local_time(value: str | None, cohort: Cohort) -> str | None:
    """A stored UTC time as the instructor reads it: in the cohort's zone."""
    if not value:
        return value
    return from_iso(value).astimezone(cohort.tz).strftime("%Y-%m-%d %H:%M %Z")


def collect(store: Store, cohort: Cohort, run_id: str, failure: str | None = None,
            limit: int = LIST_LIMIT) -> dict[str, Any]:
    """Everything the instructor's summary says about one cohort's run: counts from aggregates,
    and the first ``limit`` people of each list (``totals`` says how many there are in all)."""
    run = store.runs.get(run_id, cohort.id)
    outcomes = store.reports.email_counts(run_id, cohort.id)
    counts: dict[str, Any] = {f"customers_{s}": n for s, n in store.reports.standing_counts(run_id, cohort.id).items()}
    totals = dict.fromkeys((*LISTS, "already", "late", "quarantine", "orphans"), 0)
    by_kind: dict[str, dict[str, int]] = {c: {} for c in LISTS}
    for o in outcomes:
        k = f"{o['kind']}_{o['outcome']}"
        counts[k] = counts.get(k, 0) + o["n"]
        category = _category(o, run_id)
        if category:
            totals[category] += o["n"]
            if category in by_kind:
                by_kind[category][o["kind"]] = by_kind[category].get(o["kind"], 0) + o["n"]
    counts["sent_this_run"] = totals["sent"]
    counts["quarantined_rows"] = store.reports.quarantine_count(run_id, cohort.id)
    counts["orphan_completions"] = totals["orphans"] = store.reports.orphan_count(run_id, cohort.id)
    totals["late"] = sum(counts.get(f"customers_{s}", 0) for s in ("pending", "missed", "completed_late", "held"))
    totals["quarantine"] = counts["quarantined_rows"]
    lists: dict[str, list[dict[str, Any]]] = {c: [] for c in LISTS}
    for r in store.reports.email_lists(run_id, cohort.id, limit):
        lists[r["category"]].append(r)
    return {
        "run": run,
        "run_counts": json.loads(run["counts"]) if run.get("counts") else {},
        "failure": failure or (run.get("error") if run.get("status") in ("failed", "held") else None),
        "held": run.get("status") == "held",
        "counts": counts,
        "totals": totals,
        "by_kind": by_kind,
        "outcomes": outcomes,
        "late": [{**r, "completed_at": local_time(r["completed_at"], cohort)}
                 for r in store.reports.late(run_id, cohort.id, limit)],
        **lists,
        "quarantine": store.reports.quarantine(run_id, cohort.id, limit),
        "orphans": [{**o, "completed_at": local_time(o["completed_at"], cohort)}
                    for o in store.reports.orphans(run_id, cohort.id, limit)],
        "undelivered": [{**u, "created_at": local_time(u["created_at"], cohort)}
                        for u in store.reports.undelivered_summaries(run_id, cohort.id)],
        # What came back since the last run: bounces (with the reason the provider gave) and
        # unsubscribes, read from the mailbox before this run decided.
        "came_back": [{**m, "received_at": local_time(m["received_at"], cohort)}
                      for m in store.mailbox.for_run(run_id, cohort.id)],
        # What the same read did not act on (junk, forged reports, unsubscribes without a
        # reference), counted by why: the mailbox is shared by the cohorts that send from it.
        "mailbox_ignored": store.mailbox.ignored_for_run(run_id),
        "list_limit": limit,
    }


def _category(o: dict[str, Any], run_id: str) -> str | None:
    """Which list of the summary an email count belongs to (as summary_emails.sql sorts them)."""
    if o["outcome"] == "due" and o["ledger_status"] == "sent" and o["sent_now"]:
        return "sent"
    if o["outcome"] == "would_send":
        return "would_send"
    if o["outcome"] in ("blocked", "failed_earlier"):
        return "blocked"
    if o["outcome"] in ("suppressed", "no_consent") or (o["outcome"] == "due" and o.get("suppressed_late")):
        return "suppressed"
    if o["outcome"] == "due" and o["ledger_status"] in _PROBLEM_STATES:
        return "waiting"
    if o["outcome"] == "already_sent":
        return "already"
    return None


def named_kinds(cohort: Cohort) -> tuple[str, ...]:
    """The email kinds a run's one line counts by name: a course cohort's (the seed journey's, from
    its definition); a journey cohort's emails are counted in its summary by stage."""
    journey = journey_of(cohort)
    return journey.ledger_kinds() if journey.is_seed else ()


def one_line(cohort: Cohort, data: dict[str, Any]) -> str:
    """The run in one line, for logs and the demo."""
    c = data["counts"]
    if data["failure"]:
        sent = data["totals"]["sent"]
        return f"{cohort.id}: FAILED, {f'{sent} sent before it stopped' if sent else 'nothing sent'}: {data['failure']}"
    standing = ", ".join(f"{k.removeprefix('customers_')} {v}" for k, v in sorted(c.items())
                         if k.startswith("customers_"))
    parts = [f"{cohort.id}: {standing or 'no customers'}"]
    for kind in named_kinds(cohort):
        sent = data["by_kind"]["sent"].get(kind, 0)
        would = data["by_kind"]["would_send"].get(kind, 0)
        if sent or would:
            parts.append(f"{kind}s {'sent' if sent else 'would send'} {sent or would}")
    if data["totals"]["waiting"]:
        parts.append(f"waiting/failed {data['totals']['waiting']}")
    if data["totals"]["blocked"]:
        parts.append(f"blocked {data['totals']['blocked']}")
    parts.append(f"quarantined rows {c['quarantined_rows']}, orphans {c['orphan_completions']}")
    return "; ".join(parts)


def run_story(cohort: Cohort, as_of, run_type: str | None, triggered_by: str | None, dry_run: bool) -> str:
    """Which run this is and why it happened, in a sentence: a run she did not ask for (the
    schedule started when a Dag was unpaused, a backfill) must say so."""
    when = cohort.local_time(as_of, "%a %d %b %Y %H:%M %Z")
    by = f" by {triggered_by}" if triggered_by else ""
    story = {
        "scheduled": f"the nightly run for {when}; it runs by itself every night while the onboarding_nightly "
                     f"Dag is unpaused",
        "manual": f"a run started{by} from the Airflow UI or API, deciding as of {when}",
        "backfill": f"a backfill{by} of the night of {when}",
        "asset_triggered": f"a run started by a data update, deciding as of {when}",
    }.get(run_type or "", f"a run deciding as of {when}")
    if dry_run:
        story += ". It was a dry run: nothing was sent to customers, and this summary lists what would have been"
    return story[0].upper() + story[1:] + "."


def needs(data: dict[str, Any]) -> list[str]:
    """What the run needs from the instructor, most urgent first (empty: nothing tonight)."""
    out = []
    c, t = data["counts"], data["totals"]
    if data["failure"]:
        out.append(("This run was held by a guard and sent nothing to customers (see below). If the exports are "
                    "right, trigger the run again releasing the guard; if not, fix the export first."
                    if data["held"] else
                    (f"This run failed after sending {t['sent']} email(s) to customers (see below). The rest "
                     "are sent by the next run (rerun the night from the Airflow UI once the cause is fixed)."
                     if t["sent"] else
                     "This run failed and sent nothing to customers (see below). Fix the export or the "
                     "configuration and rerun the night from the Airflow UI.")))
    if data["undelivered"]:
        out.append(f"{len(data['undelivered'])} earlier summary email(s) did not reach you (listed below).")
    if t["quarantine"]:
        out.append(f"{t['quarantine']} export row(s) could not be used (quarantined): fix them in the export "
                   "(file, row and column below); the next run reads them again.")
    for line in data.get("run_counts", {}).get("events_never_seen", ()):
        out.append(f"No export of this cohort has ever carried the event a stage waits on ({line}): check the "
                   "event's name in the journey file against the export (python -m onboarding.ops.journeys check "
                   "--export); a cancel stage holds its customers until it is seen.")
    if c.get("customers_held"):
        out.append(f"{c['customers_held']} customer(s) on hold: a row naming them was quarantined, so they get no "
                   "email until it is fixed.")
    if t["waiting"]:
        out.append(f"{t['waiting']} email(s) are due but not sent yet: the run retries them; look if they stay.")
    if t["blocked"]:
        out.append(f"{t['blocked']} email(s) were held back and need a decision from you (listed below).")
    if t["suppressed"]:
        out.append(f"{t['suppressed']} email(s) were not sent: the address is on the suppression list, or a "
                   "marketing email had no recorded consent (listed below with why). If one of them matters (a "
                   "cancellation), tell the customer another way.")
    bounced = [m for m in data.get("came_back", []) if m["kind"] == "bounce"]
    if bounced:
        hard = sum(m["bounce"] == "hard" for m in bounced)
        # A soft bounce is sent again once; a second try that came back too is not.
        last = sum(m["bounce"] != "hard" and m["action"] != "retry once" for m in bounced)
        again = len(bounced) - hard - last
        others = "the others are sent again once" if not last else (
            (f"{again} sent again once; " if again else "")
            + f"{last} came back on their second try and are not sent again, so tell those customers another way")
        out.append(f"{len(bounced)} email(s) came back undelivered ({hard} for an address that does not exist: "
                   f"suppressed, so check it with the customer; {others}). Listed below.")
    unsub = sum(m["n"] for m in data.get("mailbox_ignored", []) if m["detail"] == feedback.UNSUB_NO_REF)
    if unsub:
        out.append(f"{unsub} unsubscribe mail(s) carried no reference, so they unsubscribed nobody (anyone can "
                   "write another person's address as the sender): read them in the mailbox and unsubscribe the "
                   "customer by hand if the request is genuine.")
    if data.get("sheet_error"):
        out.append("Your spreadsheet was not updated (see below).")
    return out


def attachments(files: list[tuple[str, Any]], limit: int) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The report CSVs to attach to the summary, as long as together they stay under ``limit``
    bytes (a very large cohort's tables stay in the run folder and on the Onboarding page): the
    files attached, and the names of those left out."""
    attached, left = [], []
    total = 0
    for name, path in files:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        if total + len(data) > limit:
            left.append(name)
            continue
        total += len(data)
        attached.append((name, data))
    return attached, left


def charts_for(data: dict[str, Any], store: Store, cohort: Cohort, with_history: bool) -> dict[str, bytes]:
    """The summary's charts as PNG images: this run's customers by standing, (for a run that
    decided and sent) completions per day against the deadline and the reminder nights, and a
    journey cohort's journey map with tonight's figures per stage. Drawn
    in a process of their own (``charts.pngs_apart``)."""
    from onboarding.reporting import charts

    c = data["counts"]
    funnel = {k.removeprefix("customers_"): v for k, v in c.items() if k.startswith("customers_")}
    funnel["signed_up"] = sum(funnel.values())
    if not funnel["signed_up"]:
        return {}
    specs = {"funnel": charts.for_email(charts.funnel_spec(funnel, steps=charts.STANDING_STEPS))}
    if with_history:
        times = store.analytics.completion_times(cohort.id)
        if len(times):
            nights = sorted({t.to_pydatetime() for t in times["reminded_at"].dropna()})
            specs["completions"] = charts.for_email(charts.completions_spec(
                charts.per_day(times["completed_at"], cohort.tz), nights, cohort.deadline_at, cohort.tz))
    journey = cohort.journey_spec
    if journey is not None and not journey.is_seed:
        # The journey map as tonight left it (the page's picture, in fixed light colours).
        from onboarding.reporting import journey_map

        figures = journey_map.stage_figures(store.analytics.stages(cohort.id), store.analytics.journey_standings(cohort.id))
        specs["map"] = {charts.SVG_KEY: journey_map.draw(journey, figures, themed=False)}
    return charts.pngs_apart(specs)
