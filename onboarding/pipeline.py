"""One cohort's nightly run, stage by stage. Each stage is one Airflow task; each reads what it
needs from the run folder and the state database, so any stage can be retried alone.

extract -> validate -> decide -> send -> report
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from onboarding import emails, reporting, settings, state
from onboarding.config import Cohort
from onboarding.decisions import KINDS, Customer, decide, email_key, email_ref, standing
from onboarding.delivery import (BatchItem, DeliveryIncomplete, Ledger, RetryPolicy, SenderFactory, deliver_batch, deliver_one,
                                 outbox_label)
from onboarding.sources import DatasetError, Snapshot, make_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resend:
    """The instructor asks, from the trigger form, to send one customer's email again."""

    email: str
    kind: str
    reason: str

    @classmethod
    def from_params(cls, customer: str | None, kind: str | None, reason: str | None) -> "Resend | None":
        if not customer:
            if kind or reason:
                raise ValueError("resend: name the customer (resend_customer) whose email to send again")
            return None
        email = customer.strip().lower()
        if "@" not in email:
            raise ValueError(f"resend_customer: {customer!r} is not an email address")
        if kind not in KINDS:
            raise ValueError(f"resend_kind: choose which email to send again: one of {list(KINDS)}")
        if not (reason or "").strip() or len(reason.strip()) < 5:
            raise ValueError("resend_reason: say why the email is sent again (it is recorded in the ledger)")
        return cls(email, kind, reason.strip())


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run shares: its id, its moment and whether it may send."""

    run_id: str
    as_of: dt.datetime
    dry_run: bool = False
    data_dir: Path = field(default_factory=settings.data_dir)
    attempt: int | None = None  # the Airflow try number, when run by Airflow
    release_guards: tuple[str, ...] = ()  # guards the instructor released for this run
    host: str = field(default_factory=socket.gethostname)
    kinds: tuple[str, ...] = KINDS  # the email kinds this run may send
    # When the run was asked for (Airflow's run_after). A reminder whose deadline had passed by
    # then is not sent, even by a rerun as of an earlier date, unless send_past_due is set.
    triggered_at: dt.datetime | None = None
    send_past_due: bool = False
    resend: "Resend | None" = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
                "data_dir": str(self.data_dir), "release_guards": list(self.release_guards),
                "kinds": list(self.kinds), "send_past_due": self.send_past_due,
                "triggered_at": self.triggered_at.isoformat() if self.triggered_at else None,
                "resend": dataclasses.asdict(self.resend) if self.resend else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunContext":
        return cls(d["run_id"], dt.datetime.fromisoformat(d["as_of"]), bool(d["dry_run"]), Path(d["data_dir"]),
                   release_guards=tuple(d.get("release_guards", ())), kinds=tuple(d.get("kinds") or KINDS),
                   triggered_at=dt.datetime.fromisoformat(d["triggered_at"]) if d.get("triggered_at") else None,
                   send_past_due=bool(d.get("send_past_due")),
                   resend=Resend(**d["resend"]) if d.get("resend") else None)

    def with_try(self, attempt: int) -> "RunContext":
        return dataclasses.replace(self, attempt=attempt)

    def folder(self, cohort_id: str) -> Path:
        return self.data_dir / "runs" / cohort_id / re.sub(r"[^A-Za-z0-9._-]+", "_", self.run_id)

    @property
    def owner(self) -> str:
        """Who holds ledger claims: this run, try and process (set by the task; see ``with_try``)."""
        return self.run_id if self.attempt is None else f"{self.run_id}/try-{self.attempt}/{self.host}:{os.getpid()}"


def resolve_as_of(value: str | None, logical_date: dt.datetime, tz: str, run_time: dt.time) -> dt.datetime:
    """The moment a run decides at: the ``as_of`` param if given, else the run's logical date.

    A date alone means "as the nightly run of that date would": ``run_time`` in ``tz``. A
    datetime without an offset is read in ``tz``.
    """
    if value in (None, ""):
        if logical_date.tzinfo is None:
            raise ValueError("the run's logical date has no time zone")
        return logical_date.astimezone(dt.timezone.utc)
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = dt.datetime.combine(dt.date.fromisoformat(text), run_time, ZoneInfo(tz))
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"as_of {value!r} is neither a date (2026-12-05) nor a datetime "
                         f"(2026-12-05T06:00 or with an offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(dt.timezone.utc)


def _record_run(engine: sa.Engine, cohort: Cohort, ctx: RunContext, status: str, error: str | None = None,
                inputs: dict | None = None, counts: dict | None = None) -> None:
    with engine.begin() as conn:
        if counts:
            # Each stage adds its counts to those of the stages before it.
            earlier = (state.rows(conn, "summary_run", run_id=ctx.run_id, cohort_id=cohort.id) or [{}])[0]
            counts = {**json.loads(earlier.get("counts") or "{}"), **counts}
        conn.execute(state.sql("upsert_run"), {
            "run_id": ctx.run_id, "cohort_id": cohort.id, "as_of": state.iso(ctx.as_of), "dry_run": int(ctx.dry_run),
            "status": status, "error": error, "inputs": json.dumps(inputs) if inputs else None,
            "counts": json.dumps(counts) if counts else None, "now": state.iso(state.utcnow())})


def extract(engine: sa.Engine, cohort: Cohort, ctx: RunContext) -> dict[str, Any]:
    """Copy both exports into the run folder; a retry of the run reuses its copies."""
    inputs = {}
    try:
        for cfg in (cohort.signups, cohort.completions):
            inputs[cfg.role] = make_source(cfg, cohort.id).snapshot(ctx.folder(cohort.id) / "inputs").to_dict()
    except DatasetError as exc:
        _record_run(engine, cohort, ctx, "failed", f"extract: {exc}")
        raise
    from onboarding.replay import cohort_fingerprint

    _record_run(engine, cohort, ctx, "extracted", inputs={**inputs, "cohort": cohort_fingerprint(cohort)})
    log.info("cohort %s: inputs copied to %s", cohort.id, ctx.folder(cohort.id) / "inputs")
    return inputs


def validate(engine: sa.Engine, cohort: Cohort, ctx: RunContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Validate both exports with GX and stage the good rows; quarantine the bad ones."""
    from onboarding.validation import Validator

    validator = Validator(run_name=ctx.run_id)
    results_dir = ctx.folder(cohort.id) / "validation"
    out = {}
    try:
        for cfg in (cohort.signups, cohort.completions):
            snap = Snapshot(**inputs[cfg.role])
            raw = make_source(cfg, cohort.id).read(snap)
            out[cfg.role] = validator.validate(raw, cfg, snap, cohort.timezone, results_dir)
    except DatasetError as exc:
        docs = _data_docs(validator, results_dir, ctx, cohort)
        _record_run(engine, cohort, ctx, "failed", f"validate: {exc}",
                    counts={"data_docs": str(docs)} if docs else None)
        raise
    docs = _data_docs(validator, results_dir, ctx, cohort)
    key = {"run_id": ctx.run_id, "cohort_id": cohort.id}
    with engine.begin() as conn:
        for stmt in state.script("delete_run_staging") + state.script("delete_run_decisions"):
            conn.execute(stmt, key)
        su, co = out["signups"], out["completions"]
        if su.rows:
            conn.execute(state.sql("insert_signup"), [
                {**key, "source_row": r["row"], "email": r["email"], "name": r["name"],
                 "signed_up_at": state.iso(r["timestamp"])} for r in su.rows])
        if co.rows:
            conn.execute(state.sql("insert_completion"), [
                {**key, "source_row": r["row"], "email": r["email"], "name": r["name"],
                 "completed_at": state.iso(r["timestamp"])} for r in co.rows])
        quarantined = su.quarantined + co.quarantined
        if quarantined:
            conn.execute(state.sql("insert_quarantine"), [
                {**key, "source": q.source, "source_row": q.row, "column_name": q.column, "reason": q.reason,
                 "file": q.file, "value": q.value, "email": q.email} for q in quarantined])
    counts = {"signup_rows": su.total_rows, "completion_rows": co.total_rows,
              "quarantined_rows": len({(q.source, q.row) for q in quarantined}),
              "validation_results": [su.results_path, co.results_path], "data_docs": str(docs) if docs else None}
    _record_run(engine, cohort, ctx, "validated", counts=counts)
    for q in quarantined:
        log.warning("cohort %s: quarantined %s", cohort.id, q.describe())
    return counts


def _data_docs(validator, results_dir: Path, ctx: RunContext, cohort: Cohort) -> Path | None:
    """The run's GX Data Docs; a failure to render them is logged, never fails the run."""
    try:
        index = validator.build_data_docs(results_dir / "data_docs", ctx.data_dir / "gx-data-docs-static")
    except Exception as exc:  # noqa: BLE001 - the JSON results are kept either way
        log.warning("cohort %s: GX Data Docs not rendered: %s: %s", cohort.id, type(exc).__name__, exc)
        return None
    log.info("cohort %s: GX validation results (Data Docs) for this run: %s", cohort.id, index)
    return index


def reconcile(conn: sa.Connection, cohort: Cohort, ctx: RunContext) -> tuple[list[Customer], list[dict]]:
    """Join signups and completions (SQL in include/sql) as of the run's moment."""
    params = {"run_id": ctx.run_id, "cohort_id": cohort.id, "as_of": state.iso(ctx.as_of)}
    customers = [Customer(r["email"], r["name"], state.from_iso(r["completed_at"]), bool(r["held"]))
                 for r in state.rows(conn, "reconcile_customers", **params)]
    orphans = state.rows(conn, "orphan_completions", **params)
    return customers, orphans


def decide_cohort(engine: sa.Engine, cohort: Cohort, ctx: RunContext) -> dict[str, Any]:
    """Reconcile, apply the rules and the ledger, and record every decision of the run.

    Due emails are entered in the ledger as pending (not in a dry run). An email entered by an
    earlier run but never attempted, and no longer due, is superseded.
    """
    key = {"run_id": ctx.run_id, "cohort_id": cohort.id}
    now = state.iso(state.utcnow())
    with engine.begin() as conn:
        customers, orphans = reconcile(conn, cohort, ctx)
        completions = conn.execute(state.sql("count_completions"), key).scalar_one()
    if customers and not completions and ctx.as_of >= cohort.deadline_at:
        error = (f"{cohort.completions.location}: the completion export has no records; refusing to "
                 f"cancel all {len(customers)} customers on it. Check the export and rerun.")
        _record_run(engine, cohort, ctx, "failed", f"decide: {error}")
        raise DatasetError(error)
    resend_key = _check_resend(engine, cohort, ctx, customers) if ctx.resend else None
    # A reminder is only worth sending before the deadline: a rerun asked for after it (even one
    # as of an earlier date) does not send it unless the instructor ticks send_past_due.
    past_deadline = ctx.triggered_at is not None and ctx.triggered_at >= cohort.deadline_at
    with engine.begin() as conn:
        ledger = {}
        for r in state.rows(conn, "ledger_by_cohort", cohort_id=cohort.id):
            # A resend has a key of its own; the rules look at the original email of each kind.
            slot = r["email_key"] if "|resend|" in r["email_key"] else r["kind"]
            ledger.setdefault(r["recipient"], {})[slot] = r
        for stmt in state.script("delete_run_decisions"):
            conn.execute(stmt, key)
        statuses, decision_rows, plan_rows, resend_rows, due_keys = [], [], [], [], set()
        for c in customers:
            statuses.append({**key, "email": c.email, "name": c.name, "completed_at": state.iso(c.completed_at),
                             "status": standing(c, cohort, ctx.as_of)})
            known = {k: v["status"] for k, v in ledger.get(c.email, {}).items()}
            for d in decide(c, cohort, ctx.as_of, known):
                if d.kind not in ctx.kinds:
                    continue
                k = email_key(cohort.id, c.email, d.kind)
                outcome, reason = ("would_send" if (d.due and ctx.dry_run) else d.outcome), d.reason
                if d.due and d.kind == "reminder" and past_deadline and not ctx.send_past_due:
                    outcome = "moment_passed"
                    reason = (f"the deadline had passed when this run was asked for "
                              f"({ctx.triggered_at.astimezone(cohort.tz):%Y-%m-%d %H:%M %Z}); "
                              f"set send_past_due to send it anyway")
                decision_rows.append({**key, "email": c.email, "kind": d.kind, "outcome": outcome,
                                      "reason": reason, "email_key": k})
                if outcome in ("due", "would_send"):
                    due_keys.add(k)
                    plan_rows.append({"email_key": k, "ref": email_ref(k), "cohort_id": cohort.id,
                                      "recipient": c.email, "recipient_name": c.name, "kind": d.kind,
                                      "run_id": ctx.run_id, "now": now})
            if resend_key and c.email == ctx.resend.email:
                # The instructor's resend replaces whatever the rules decided for that email this run.
                decision_rows = [d for d in decision_rows if (d["email"], d["kind"]) != (c.email, ctx.resend.kind)]
                decision_rows.append({**key, "email": c.email, "kind": ctx.resend.kind,
                                      "outcome": "would_send" if ctx.dry_run else "due",
                                      "reason": f"resend asked for: {ctx.resend.reason}", "email_key": resend_key})
                due_keys.add(resend_key)
                resend_rows.append({"email_key": resend_key, "ref": email_ref(resend_key), "cohort_id": cohort.id,
                                    "recipient": c.email, "recipient_name": c.name, "kind": ctx.resend.kind,
                                    "run_id": ctx.run_id, "now": now, "reason": ctx.resend.reason})
        if statuses:
            conn.execute(state.sql("insert_customer_status"), statuses)
        if orphans:
            conn.execute(state.sql("insert_orphan"), [{**key, **o} for o in orphans])
        trips, held = _guards(conn, cohort, ctx, len(customers), decision_rows)
        if held:
            # Hold: the decisions stay on record, marked held; nothing enters the ledger.
            reason = "; ".join(t.message for t in held)
            for d in decision_rows:
                if d["outcome"] in ("due", "would_send"):
                    d["outcome"], d["reason"] = "held", f"held by a guard: {reason}"
            plan_rows, resend_rows, due_keys = [], [], set()
        superseded = 0
        if decision_rows:
            conn.execute(state.sql("insert_decision"), decision_rows)
        if not ctx.dry_run and not held:
            if plan_rows:
                conn.execute(state.sql("ledger_plan"), plan_rows)
            if resend_rows:
                conn.execute(state.sql("ledger_plan_resend"), resend_rows)
            for per_kind in ledger.values():
                for row in per_kind.values():
                    if row["status"] == "pending" and row["email_key"] not in due_keys and row["kind"] in KINDS:
                        superseded += conn.execute(state.sql("ledger_supersede"), {
                            "email_key": row["email_key"], "now": now,
                            "reason": f"no longer due as of {state.iso(ctx.as_of)}"}).rowcount
    counts: dict[str, Any] = {"customers": len(customers), "orphans": len(orphans), "superseded": superseded}
    for s in statuses:
        counts[f"status_{s['status']}"] = counts.get(f"status_{s['status']}", 0) + 1
    for d in decision_rows:
        counts[f"{d['kind']}_{d['outcome']}"] = counts.get(f"{d['kind']}_{d['outcome']}", 0) + 1
    with engine.begin() as conn:
        conn.execute(state.sql("record_guards"), {**key, "now": state.iso(state.utcnow()), "guards": json.dumps(
            [{"guard": t.guard, "message": t.message, "released": t not in held} for t in trips]) if trips else None})
    if held:
        counts["held_by_guards"] = list(dict.fromkeys(t.guard for t in held))
        message = ("held by guard(s), nothing sent: " + "; ".join(f"{t.guard}: {t.message}" for t in held)
                   + ". If the exports are right, release with the run parameter release_guards="
                   + ",".join(counts["held_by_guards"]))
        _record_run(engine, cohort, ctx, "held", message, counts=counts)
        log.warning("cohort %s: %s", cohort.id, message)
        return counts
    _record_run(engine, cohort, ctx, "decided", counts=counts)
    log.info("cohort %s as of %s: %s", cohort.id, ctx.as_of.isoformat(), counts)
    return counts


class ResendRefused(DatasetError):
    """A resend asked for from the trigger form cannot be done as asked; nothing is sent."""


def _check_resend(engine: sa.Engine, cohort: Cohort, ctx: RunContext, customers: list[Customer]) -> str:
    """The ledger key of the instructor's resend, once it is known to make sense: the customer is
    in the cohort, that email went out before, and its opposite (welcome/cancellation) did not."""
    from onboarding.decisions import EXCLUSIVE, IN_FLIGHT_STATES, SENT_STATES

    r = ctx.resend
    if not any(c.email == r.email for c in customers):
        raise _refuse(engine, cohort, ctx, f"resend: {r.email} is not a customer of cohort {cohort.id} in this run's "
                                           f"exports")
    with engine.connect() as conn:
        mine = {row["kind"]: row["status"] for row in state.rows(conn, "ledger_by_cohort", cohort_id=cohort.id)
                if row["recipient"] == r.email and "|resend|" not in row["email_key"]}
    if mine.get(r.kind) not in SENT_STATES:
        raise _refuse(engine, cohort, ctx, f"resend: no {r.kind} went out to {r.email} before (ledger: "
                                           f"{mine.get(r.kind) or 'none'}); a resend only sends again an email that "
                                           f"was sent. Rerun without resend to send what is due")
    rival = EXCLUSIVE.get(r.kind)
    if rival and mine.get(rival) in SENT_STATES + IN_FLIGHT_STATES:
        raise _refuse(engine, cohort, ctx, f"resend: {r.email} was sent a {rival} ({mine[rival]}); a {r.kind} "
                                           f"would contradict it")
    return f"{email_key(cohort.id, r.email, r.kind)}|resend|{ctx.run_id}"


def _refuse(engine: sa.Engine, cohort: Cohort, ctx: RunContext, message: str) -> ResendRefused:
    _record_run(engine, cohort, ctx, "failed", f"decide: {message}")
    return ResendRefused(message)


def _guards(conn: sa.Connection, cohort: Cohort, ctx: RunContext, customers: int, decision_rows: list[dict]):
    """The guards this run trips, and those of them not released: (tripped, holding)."""
    from onboarding.guards import GuardConfig, check

    key = {"run_id": ctx.run_id, "cohort_id": cohort.id}
    run = state.rows(conn, "summary_run", **key)[0]
    inputs = json.loads(run["inputs"] or "{}")
    counts = json.loads(run["counts"] or "{}")
    previous = (state.rows(conn, "previous_run", **key, started_at=run["started_at"]) or [None])[0]
    before = json.loads(previous["counts"]).get("completion_rows") if previous and previous["counts"] else None
    cancellations = sum(1 for d in decision_rows if d["kind"] == "cancellation" and d["outcome"] in ("due", "would_send"))
    trips = check(cohort.guards or GuardConfig(), ctx.as_of,
                  {r: inputs[r] for r in ("signups", "completions") if r in inputs},
                  counts.get("completion_rows", 0), before, cancellations, customers)
    return trips, [t for t in trips if t.guard not in ctx.release_guards]


def customer_email(cohort: Cohort, kind: str, email_addr: str, name: str, ref: str):
    """Render one customer email of ``kind`` and build the message."""
    content = emails.render(kind, **email_context(cohort, name, ref))
    return emails.build_message(sender=cohort.sender, to_email=email_addr, to_name=name, content=content, ref=ref)


def email_context(cohort: Cohort, name: str, ref: str) -> dict[str, Any]:
    sender_name = emails.parse_sender(cohort.sender).display_name
    return {"name": emails.clean_name(name), "cohort": cohort, "deadline": cohort.deadline_display(),
            "deadline_date": f"{cohort.deadline:%d %B %Y}", "course_url": cohort.course_url,
            "next_steps": list(cohort.next_steps), "ref": ref,
            "signature": sender_name or "The course team"}


def send(engine: sa.Engine, cohort: Cohort, ctx: RunContext, get_factory: Callable[[], SenderFactory],
         policy: RetryPolicy | None = None) -> dict[str, Any]:
    """Send every email this run decided is due, through the ledger, most urgent first
    (reminders, then cancellations, then welcomes; within each, those waiting longest). A dry run
    renders them into the run folder's ``preview`` instead and sends nothing."""
    with engine.connect() as conn:
        due = state.rows(conn, "due_emails", run_id=ctx.run_id, cohort_id=cohort.id)
    if ctx.dry_run:
        preview = ctx.folder(cohort.id) / "preview"
        preview.mkdir(parents=True, exist_ok=True)
        for r in due:
            msg = customer_email(cohort, r["kind"], r["email"], r["name"], email_ref(r["email_key"]))
            (preview / f"{r['kind']}__{r['email']}.eml").write_bytes(bytes(msg))
        log.info("cohort %s: dry run, %d email(s) rendered to %s, none sent", cohort.id, len(due), preview)
        return {"would_send": len(due), "preview": str(preview)}
    if not due:
        return {"sent": 0}
    factory = get_factory()
    items = []
    for r in due:
        def build(r=r):
            return (customer_email(cohort, r["kind"], r["email"], r["name"], email_ref(r["email_key"])),
                    outbox_label(cohort.id, r["kind"], r["email"]))

        items.append(BatchItem(r["email_key"], build))
    outcomes = deliver_batch(Ledger(engine, ctx.owner, ctx.run_id), factory, items, policy)
    tally: dict[str, int] = {}
    for r, outcome in zip(due, outcomes):
        tally[outcome.status] = tally.get(outcome.status, 0) + 1
        if outcome.status in ("failed", "unconfirmed", "waiting"):
            log.warning("cohort %s: %s %s to %s: %s", cohort.id, r["kind"], outcome.status, r["email"], outcome.detail)
    log.info("cohort %s: delivery %s", cohort.id, tally)
    retry = [o for o in outcomes if o.status == "waiting" and not o.stopped]
    if retry:
        raise DeliveryIncomplete(f"cohort {cohort.id}: {len(retry)} email(s) still refused after "
                                 f"{factory.limits.attempts} attempts each (e.g. {retry[0].detail}); "
                                 f"they stay due and a retry sends them")
    return tally


def report(engine: sa.Engine, cohort: Cohort, ctx: RunContext, get_factory: Callable[[], SenderFactory],
           failure: str | None = None, policy: RetryPolicy | None = None,
           sheets_client: Callable[[dict], Any] | None = None) -> dict[str, Any]:
    """Tell the instructor what this run did: her spreadsheet (CSV files in the run folder, and
    her Google Sheet when configured), then one summary email per cohort per run (a retry of the
    same run does not send it twice), also written to the run folder and the log. A held or
    failed run's summary copies the data team.

    If the Google Sheet could not be written, the summary says so and ``SheetNotUpdated`` is
    raised after it is sent, so the task fails and its retry rewrites the sheet.
    """
    from onboarding import instructor_sheet

    with engine.connect() as conn:
        data = reporting.collect(conn, cohort, ctx.run_id, failure)
        tables = instructor_sheet.build(conn, cohort, ctx.run_id)
    folder = ctx.folder(cohort.id)
    folder.mkdir(parents=True, exist_ok=True)
    data["report_files"] = instructor_sheet.write_csv(tables, folder / "report")
    data["sheet"] = data["sheet_error"] = sheet_error = None
    decided = (data["run"].get("status") or "") in ("decided", "held", "sent", "done", "dry_run")
    if cohort.instructor_sheet and not ctx.dry_run and decided:
        # A run that stopped before deciding has no statuses: it must not blank her sheet.
        try:
            client = (sheets_client or instructor_sheet.client_for)(cohort.instructor_sheet)
            data["sheet"] = instructor_sheet.write_sheet(client, cohort.instructor_sheet["spreadsheet"], cohort.id, tables)
            log.info("cohort %s: instructor's sheet updated: %s", cohort.id, data["sheet"])
        except Exception as exc:  # noqa: BLE001 - reported to her, then raised below
            sheet_error = f"{type(exc).__name__}: {exc}"
            data["sheet_error"] = sheet_error
            log.error("cohort %s: instructor's sheet not updated: %s", cohort.id, sheet_error)
    key = f"{cohort.id}|{cohort.instructor}|summary|{ctx.run_id}"
    ref = email_ref(key)
    content = emails.render("summary", **data, ref=ref, dry_run=ctx.dry_run, as_of=ctx.as_of, cohort=cohort)
    (folder / "summary.txt").write_text(content.text, encoding="utf-8")
    (folder / "summary.html").write_text(content.html, encoding="utf-8")
    log.info("cohort %s summary:\n%s", cohort.id, content.text)
    if failure is None:
        _record_run(engine, cohort, ctx, "dry_run" if ctx.dry_run else "done")
    cc = cohort.data_team if data["failure"] else ()
    msg = emails.build_message(sender=cohort.sender, to_email=cohort.instructor, to_name="", content=content, ref=ref,
                               cc=cc)
    if ctx.dry_run:
        (folder / "summary.eml").write_bytes(bytes(msg))
        _record_for_data_team(engine, cohort, ctx, data, "rendered (dry run)")
        return {"summary": "rendered (dry run)", **data["counts"]}
    with engine.begin() as conn:
        conn.execute(state.sql("ledger_plan"), {
            "email_key": key, "ref": ref, "cohort_id": cohort.id, "recipient": cohort.instructor,
            "recipient_name": "", "kind": "summary", "run_id": ctx.run_id, "now": state.iso(state.utcnow())})
    factory = get_factory()
    outcome = deliver_one(Ledger(engine, ctx.owner, ctx.run_id), factory(), key,
                          lambda: (msg, outbox_label(cohort.id, "summary", cohort.instructor)),
                          policy or RetryPolicy.for_limits(factory.limits))
    log.info("cohort %s: instructor summary to %s%s: %s %s", cohort.id, cohort.instructor,
             f" (cc {', '.join(cc)})" if cc else "", outcome.status, outcome.detail)
    _record_for_data_team(engine, cohort, ctx, data, outcome.status)
    if sheet_error:
        raise SheetNotUpdated(f"cohort {cohort.id}: the instructor's Google Sheet was not updated: {sheet_error}")
    return {"summary": outcome.status, **data["counts"], **({"sheet": data["sheet"]} if data["sheet"] else {})}


def _record_for_data_team(engine: sa.Engine, cohort: Cohort, ctx: RunContext, data: dict[str, Any],
                          summary_status: str) -> dict[str, Any]:
    """One readable summary block in the task log and the same as a row of ``run_reports``."""
    with engine.begin() as conn:
        # Read after the run's final status was recorded, so the record says how it ended.
        data = {**data, "run": (state.rows(conn, "summary_run", run_id=ctx.run_id, cohort_id=cohort.id) or [{}])[0]}
        rec = {**reporting.run_record(conn, cohort, ctx.run_id, data), "summary_email": summary_status,
               "sheet": data.get("sheet"), "sheet_error": data.get("sheet_error"),
               "report_files": data.get("report_files")}
        reporting.save_record(conn, rec)
    log.info("%s", reporting.describe_record(rec, cohort))
    return rec


class SheetNotUpdated(Exception):
    """The instructor's Google Sheet could not be written; a retry of the report task rewrites it."""
