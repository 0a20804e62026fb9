"""Stage 5, report: tell the instructor what the run did (her spreadsheet and a summary email) and
leave the data team their record of it."""
from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import quote

from onboarding import storage
from onboarding.cohorts import Cohort
from onboarding.decisions import is_seed, journey_of
from onboarding.delivery import messages
from onboarding.delivery.ledger import send_one
from onboarding.identity import EmailId
from onboarding.delivery.senders import SenderFactory, outbox_label
from onboarding.errors import SheetNotUpdated, SheetTooLarge, SummaryNotSent
from onboarding.pipeline.decide import roster
from onboarding.pipeline.progress import record
from onboarding import words
from onboarding.reporting import digests, record as data_team, sheet, summary
from onboarding.run import RunContext
from onboarding.store import Store

log = logging.getLogger(__name__)

# How a run that got through may stand when its report is written.
FINISHED = ("sent", "decided", "done", "dry_run")
# The report CSVs go with the summary up to this size together (Gmail takes ~25 MB; a message this
# size sends in one request); a larger cohort's tables are on the Onboarding page and in the run folder.
ATTACH_LIMIT = 3_000_000


def _journey_digests(store: Store, cohort: Cohort, ctx: RunContext, email: Callable[[], SenderFactory],
                     data: dict[str, Any], send: bool) -> None:
    """A journey cohort's digests: the instructor's share goes into her summary (``data``), each
    CSM gets theirs by email, once per run (through the ledger)."""
    journey = cohort.journey_spec
    found = digests.digests(store.journeys.waiting(ctx.run_id, cohort.id),
                            {c.email: c.name for c in roster(store, cohort, ctx.run_id)},
                            cohort.tz, {s.id: s.title for s in journey.stages}, journey)
    # Filtered to those not answered yet: Airflow's list otherwise shows answered requests first.
    url = f"{ctx.ui_url}/required_actions?response_received=false" if ctx.ui_url else None
    mine = found.get("instructor")
    data["needs"] += digests.needs_lines(mine, url)
    data["waits_on_you"] = list(mine.lines) if mine else []
    # The instructor's summary counts what waits on each team, whether or not its digest goes tonight.
    data["team_waiting"] = digests.team_counts(found, journey)
    data["digests"] = {}
    for who, digest in sorted(found.items()):
        if who == "instructor" or who.startswith(digests.TEAM):
            continue
        if not send:
            data["digests"][who] = "not sent (dry run or failed run)"
            continue
        entry = store.ledger.plan_one(EmailId(cohort.id, who, "digest", per_run_id=ctx.run_id), ctx.run_id,
                                      store.ledger.references())
        if entry is None:  # the CSM was erased from the cohort: nothing goes to them, her address kept nowhere
            data["digests"]["[erased]"] = "not sent (its recipient was erased)"
            continue
        ref = entry["ref"]
        content = messages.render("digest", digest=digest, cohort=cohort, as_of=ctx.as_of, ref=ref, approvals_url=url)
        msg = messages.build_message(sender=cohort.sender, to_email=who, to_name=digest.name, content=content, ref=ref)
        sent = send_one(store, email(), ctx.owner, ctx.run_id,
                        entry["email_key"], lambda msg=msg, who=who: (msg, outbox_label(cohort.id, "digest", who)))
        data["digests"][who] = sent.status
        log.info("cohort %s: digest to %s (%d item(s)): %s %s", cohort.id, who, len(digest.lines), sent.status,
                 sent.detail)
    _team_digests(store, cohort, ctx, email, data, found, url, send)


def _team_digests(store: Store, cohort: Cohort, ctx: RunContext, email: Callable[[], SenderFactory],
                  data: dict[str, Any], found: dict[str, digests.Digest], url: str | None, send: bool) -> None:
    """Each team's digest of what waits on it, on the runs of its cadence (the cohort's local day),
    to each of its members, once per run and member (the ledger's kind ``team_digest_<team>``:
    a member of two teams, or a CSM too, gets each digest once)."""
    journey = cohort.journey_spec
    data["team_digests"] = {}
    for team in journey.teams:
        digest = found.get(digests.TEAM + team.name)
        if digest is None or not team.digest_due(ctx.as_of.astimezone(cohort.tz).date()):
            continue
        if not send:
            data["team_digests"][team.shown] = "not sent (dry run or failed run)"
            continue
        statuses = []
        for address in team.addresses:
            entry = store.ledger.plan_one(EmailId(cohort.id, address, f"team_digest_{team.name}",
                                                  per_run_id=ctx.run_id), ctx.run_id, store.ledger.references())
            if entry is None:  # a member erased from the cohort: nothing goes to them
                statuses.append("not sent (a recipient was erased)")
                continue
            ref = entry["ref"]
            content = messages.render("digest", digest=digest, cohort=cohort, as_of=ctx.as_of, ref=ref,
                                      approvals_url=url)
            msg = messages.build_message(sender=cohort.sender, to_email=address, to_name=digest.name,
                                         content=content, ref=ref)
            sent = send_one(store, email(), ctx.owner, ctx.run_id, entry["email_key"],
                            lambda msg=msg, a=address: (msg, outbox_label(cohort.id, f"team_digest_{team.name}", a)))
            statuses.append(sent.status)
        data["team_digests"][team.shown] = ", ".join(f"{n} {s}" for s, n in sorted(
            {s: statuses.count(s) for s in statuses}.items()))
        log.info("cohort %s: team %s's digest (%d item(s)) to %d member(s): %s", cohort.id, team.name,
                 len(digest.lines), len(team.addresses), data["team_digests"][team.shown])


# The stage that was running when a run stopped at a status (no row yet: the first one).
_NEXT_STAGE = {None: "extract", "extracted": "validate", "validated": "decide", "decided": "send"}


def failure_of(run: dict[str, Any], unconfirmed: int = 0) -> str | None:
    """Why a cohort's run did not get through (failed, held, or stopped before sending), or None.
    The report runs once every task before it has ended, so a run still at an earlier stage's
    status stopped in the next stage's task (its retries spent): a run that never recorded a
    stage stopped reading its exports; a decided run that is no dry run stopped sending
    (``unconfirmed``: its emails left claimed or drafted, not known to be sent)."""
    status = run.get("status")
    if status in FINISHED and not (status == "decided" and not run.get("dry_run")):
        return None
    if run.get("error"):
        return run["error"]
    stage = _NEXT_STAGE.get(status, status)
    text = f"{stage}: the {stage} task failed (after its retries) before the run could record it; see its log"
    if stage == "send" and unconfirmed:
        text += (f"; {unconfirmed} email(s) were left half-way (claimed or drafted), not known to be sent: the "
                 "next run looks for each in the Sent folder before sending it")
    return text


def _write_sheet(cohort: Cohort, ctx: RunContext, tables: dict[str, Any], data: dict[str, Any],
                 sheets: Callable[[str], Any] | None) -> str | None:
    """Her Google Sheet, when the cohort has one and the run decided (a run that stopped before
    deciding has no statuses: it must not blank her sheet). ``data`` gets what the summary says
    of it; returns the error to raise once the summary is sent (None: nothing to raise)."""
    data["sheet"] = data["sheet_error"] = None
    decided = (data["run"].get("status") or "") in ("decided", "held", "sent", "done", "dry_run")
    if not (cohort.instructor_sheet and not ctx.dry_run and decided):
        return None
    try:
        if sheets is None:
            raise ValueError("no Google Sheets client was handed to the report")
        client = sheets(cohort.instructor_sheet["connection"])
        data["sheet"] = sheet.write_sheet(client, cohort.instructor_sheet["spreadsheet"], cohort.id, tables)
        log.info("cohort %s: instructor's sheet updated: %s", cohort.id, data["sheet"])
    except SheetTooLarge as exc:  # told to her; retrying cannot help, so the task goes on
        data["sheet_error"] = f"too large for a Google Sheet: {exc}"
        log.warning("cohort %s: instructor's sheet not updated: %s", cohort.id, exc)
    except Exception as exc:  # noqa: BLE001 - reported to her, then raised by the report
        data["sheet_error"] = f"{type(exc).__name__}: {exc}"
        log.error("cohort %s: instructor's sheet not updated: %s", cohort.id, data["sheet_error"])
        return data["sheet_error"]
    return None


def report(store: Store, cohort: Cohort, ctx: RunContext, email: Callable[[], SenderFactory],
           sheets: Callable[[str], Any] | None = None, failure: str | None = None) -> dict[str, Any]:
    """Her spreadsheet (CSV files in the run folder, and her Google Sheet when configured), then
    one summary email per cohort per run (a dry run's too, marked [DRY RUN]; a retry of the same run
    does not send it twice), with the report CSVs attached and its charts inline, also
    written to the run folder and the log. A held or failed run's summary copies the data team.

    ``sheets`` makes a Sheets client from a connection id (needed only with ``instructor_sheet``).
    If the Google Sheet could not be written, the summary says so and ``SheetNotUpdated`` is
    raised after it is sent, so the task fails and its retry rewrites the sheet. The result's
    ``failure`` (and ``held``) say whether the cohort's run got through.
    """
    failure = _how_it_ended(store, cohort, ctx, failure)
    data = summary.collect(store, cohort, ctx.run_id, failure)
    tables = sheet.build(store, cohort, ctx.run_id, dry_run=ctx.dry_run)
    folder = ctx.folder(cohort.id)
    data["report_files"] = sheet.write_csv(tables, folder / "report")
    sheet_error = _write_sheet(cohort, ctx, tables, data, sheets)
    _what_she_reads(data, cohort, ctx)
    if not is_seed(journey_of(cohort)):
        _journey_digests(store, cohort, ctx, email, data, send=failure is None and not ctx.dry_run)
    attached, left_out = summary.attachments([(f"{n}.csv", folder / "report" / f"{n}.csv") for n in tables],
                                             ATTACH_LIMIT)
    data["attached"], data["not_attached"] = [n for n, _ in attached], left_out
    images = _charts(data, store, cohort, with_history=not ctx.dry_run and failure is None)
    data["images"] = sorted(images)
    # Entered before it is written, so the summary carries the reference the ledger keeps for it.
    entry = store.ledger.plan_one(EmailId(cohort.id, cohort.instructor, "summary", per_run_id=ctx.run_id),
                                  ctx.run_id, store.ledger.references())
    if entry is None:  # the instructor was erased: the run goes on, nothing goes to her, her record says so
        outcome = _summary_to_nobody(store, cohort, ctx, data, failure)
        if sheet_error:  # as below: the retry rewrites her sheet
            raise SheetNotUpdated(f"cohort {cohort.id}: the instructor's Google Sheet was not updated: {sheet_error}")
        return outcome
    key, ref = entry["email_key"], entry["ref"]
    content = messages.render("summary", **data, ref=ref, dry_run=ctx.dry_run, as_of=ctx.as_of, cohort=cohort,
                              run_id=ctx.run_id)
    storage.write_text(folder / "summary.txt", content.text)
    storage.write_text(folder / "summary.html", content.html)
    # Not the text itself: it names customers, and Airflow's task log is out of an erasure's reach.
    log.info("cohort %s: summary written to %s", cohort.id, folder / "summary.txt")
    if failure is None:
        record(store, cohort, ctx, "dry_run" if ctx.dry_run else "done")
    cc = cohort.data_team if data["failure"] else ()
    msg = messages.build_message(sender=cohort.sender, to_email=cohort.instructor, to_name="", content=content,
                                 ref=ref, cc=cc, images=images, attachments=attached)
    outcome = {"failure": failure, "held": data["held"]}
    if ctx.dry_run:
        storage.write_bytes(folder / "summary.eml", bytes(msg))
    # A dry run's summary goes to her too, marked [DRY RUN]: she asked what would go out.
    sent = send_one(store, email(), ctx.owner, ctx.run_id,
                    key, lambda: (msg, outbox_label(cohort.id, "summary", cohort.instructor)))
    log.info("cohort %s: instructor summary to %s%s: %s %s", cohort.id, cohort.instructor,
             f" (cc {', '.join(cc)})" if cc else "", sent.status, sent.detail)
    delivered = sent.status in ("sent", "recovered") or (store.ledger.get(key) or {}).get("status") == "sent"
    _record_for_data_team(store, cohort, ctx, data, (sent.status if delivered else f"NOT SENT ({sent.status})")
                          + (" (dry run)" if ctx.dry_run else ""))
    _warm_page(store, cohort)
    if not delivered:
        raise SummaryNotSent(f"cohort {cohort.id}: the instructor's summary was not sent ({sent.status}: "
                             f"{sent.detail}); the report task's retry sends it, and the next run's summary says "
                             f"if it never went out")
    if sheet_error:
        raise SheetNotUpdated(f"cohort {cohort.id}: the instructor's Google Sheet was not updated: {sheet_error}")
    return {"summary": sent.status, **data["counts"], **({"sheet": data["sheet"]} if data["sheet"] else {}),
            **outcome}


def _how_it_ended(store: Store, cohort: Cohort, ctx: RunContext, failure: str | None) -> str | None:
    """Why the cohort's run did not get through (``failure_of``; a decided run's emails left
    half-way counted), or None; a run that failed without saying so is recorded failed, and why,
    as a stage's own failure would have."""
    run = store.runs.get(ctx.run_id, cohort.id)
    if not failure and run.get("status") == "decided" and not run.get("dry_run"):
        states = store.ledger.states(cohort.id)
        failure = failure_of(run, int(states["status"].isin(["claimed", "drafted"]).sum()) if len(states) else 0)
    failure = failure or failure_of(run)
    if failure and run.get("status") not in ("failed", "held"):
        record(store, cohort, ctx, "failed", failure)
    return failure


def _what_she_reads(data: dict[str, Any], cohort: Cohort, ctx: RunContext) -> None:
    """The summary's framing (in place): which run this was and why, where her page is, the
    standings in her words, and what needs her."""
    data["story"] = summary.run_story(cohort, ctx.as_of, ctx.run_type, ctx.triggered_by, ctx.dry_run)
    data["page_url"] = f"{ctx.ui_url}/onboarding/cohorts/{quote(cohort.id)}" if ctx.ui_url else None
    # The instructor's guide, served by the Onboarding plugin beside her page (docs/instructor.md).
    data["guide_url"] = f"{ctx.ui_url}/onboarding/guide/instructor/" if ctx.ui_url else None
    data["ui_url"], data["ui_url_assumed"] = ctx.ui_url, ctx.ui_url_assumed
    data["show"], data["chart_width"] = summary.SHOWN, charts_width()
    standings = [(k.removeprefix("customers_"), v) for k, v in sorted(data["counts"].items())
                 if k.startswith("customers_")]
    data["standings"] = [(words.standing(k), v) for k, v in standings]
    data["standings_short"] = [(words.standing_short(k), v) for k, v in standings]
    data["needs"] = summary.needs(data)


# A page figure slower than this is left to her first look: the night never waits on it.
PAGE_WARM_SECONDS = 120


def _warm_page(store: Store, cohort: Cohort) -> None:
    """Compute the Onboarding page's figures for this run now, while the night runs, so the
    instructor's first look after it does not wait for them (at 100,000 customers the views read
    every customer: seconds). A failure here costs only that wait, never the night."""
    from onboarding.reporting.page import PageReads

    try:
        with store.bounded(PAGE_WARM_SECONDS) as tx:
            PageReads(tx, None).figures(cohort.id)
    except Exception as exc:  # noqa: BLE001 - the page computes them on first look instead
        log.warning("cohort %s: the page's figures were not computed ahead: %s", cohort.id, type(exc).__name__)


def charts_width() -> int:
    from onboarding.reporting.charts import EMAIL_WIDTH

    return EMAIL_WIDTH


def _summary_to_nobody(store: Store, cohort: Cohort, ctx: RunContext, data: dict[str, Any],
                       failure: str | None) -> dict[str, Any]:
    """The run of a cohort whose instructor was erased: no summary is written or sent (it would
    be to her); the run ends as it stands and the data team's record says why, naming nobody."""
    log.warning("cohort %s: no summary: its recipient (the cohort's instructor) was erased", cohort.id)
    if failure is None:
        record(store, cohort, ctx, "dry_run" if ctx.dry_run else "done")
    _record_for_data_team(store, cohort, ctx, data, "NOT SENT (its recipient, the instructor, was erased)")
    return {"summary": "not sent (recipient erased)", **data["counts"],
            **({"sheet": data["sheet"]} if data["sheet"] else {}), "failure": failure, "held": data["held"]}


def _charts(data: dict[str, Any], store: Store, cohort: Cohort, with_history: bool) -> dict[str, bytes]:
    """The summary's charts; a chart that cannot be drawn never stops the summary (its numbers
    are in the text)."""
    try:
        return summary.charts_for(data, store, cohort, with_history)
    except Exception as exc:  # noqa: BLE001 - reported in the log, the summary goes without it
        log.warning("cohort %s: summary charts not drawn: %s: %s", cohort.id, type(exc).__name__, exc)
        return {}


def _record_for_data_team(store: Store, cohort: Cohort, ctx: RunContext, data: dict[str, Any],
                          summary_status: str) -> dict[str, Any]:
    """One readable summary block in the task log and the same as a row of ``run_reports``."""
    # Read after the run's final status was recorded, so the record says how it ended.
    data = {**data, "run": store.runs.get(ctx.run_id, cohort.id)}
    rec = {**data_team.run_record(store, cohort, ctx.run_id, data), "summary_email": summary_status,
           "sheet": data.get("sheet"), "sheet_error": data.get("sheet_error"),
           "report_files": data.get("report_files")}
    store.reports.save(rec)
    log.info("%s", data_team.describe_record(rec, cohort))
    return rec
