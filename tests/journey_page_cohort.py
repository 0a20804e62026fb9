"""A journey cohort written row by row into a state database, for the Onboarding page's lists
(tests/test_page_lists_browser.py): what a night of a journey leaves behind, with every count
known by construction.

Cohort ``j1`` (journey ``trial``: verification, details, csm), its one decided run ``j-r1``. Its
130 customers ``p000@y.org``..``p129@y.org`` (names ``P000``..):

    customers  standing                      waits on a person (journey_waiting)
    0-39       details: awaiting_approval    awaiting_approval, the instructor
    40-59      csm: waiting_for_csm          waiting_for_csm, the instructor
    60-69      details: overdue              overdue, the instructor
    70-71      details: overdue              overdue, their CSM (escalated to them)
    72-74      held                          -
    75-89      done                          75-77: open_query, the instructor
    90-99      cancelled                     -
    100-129    verification: in_stage        -

Each has a visit of every stage they reached (completed, approved; their current stage as it
stands; verification missed for the cancelled, held for the held). CSMs: 70, 71 and 75-89 are looked after by Priya (even numbers) or Sam (odd). Emails (sent by
``j-r1``): customer 0 got six (verification, its two reminders, the details form and its two
reminders); 100-129 one verification reminder each: 34 reminders in all, 2 of the details stage.
The instructor's summary of the run is in the ledger too (a per-run email: not a customer's).
The run quarantined 230 export rows and found 120 completions with no signup.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

COHORT = "j1"
RUN = "j-r1"
AS_OF = "2026-12-02T06:00:00.000000Z"
STAGES = (("verification", "Verify your email"), ("details", "Tell us about your team"), ("csm", "Meet your CSM"))
CSMS = {"priya@example.com": "Priya Raman", "sam@example.com": "Sam Okafor"}
REMINDERS, DETAILS_REMINDERS = 34, 2


def email(i: int) -> str:
    return f"p{i:03d}@y.org"


def standing(i: int) -> str:
    for upto, status in ((40, "details: awaiting_approval"), (60, "csm: waiting_for_csm"), (72, "details: overdue"),
                         (75, "held"), (90, "done"), (100, "cancelled"), (130, "verification: in_stage")):
        if i < upto:
            return status
    raise ValueError(i)


def csm_of(i: int) -> str | None:
    return (list(CSMS)[i % 2]) if i in (70, 71) or 75 <= i < 90 else None


def _visits(i: int) -> list[tuple[str, str, bool]]:
    """The customer's visits of the run, stage by stage: (stage, outcome, completed)."""
    status = standing(i)
    if status == "done":
        return [("verification", "completed", True), ("details", "approved", True), ("csm", "completed", True)]
    if status == "cancelled":
        return [("verification", "missed", False)]
    if status == "held":
        return [("verification", "held", False)]
    stage, _, now = status.partition(": ")
    before = [s for s, _ in STAGES][:[s for s, _ in STAGES].index(stage)]
    return [(s, "approved" if s == "details" else "completed", True) for s in before] + [(stage, now, False)]


def _insert(conn, table: str, **row):
    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})"), row)


def _sent(conn, to: str, kind: str, per_run: str = ""):
    stage = kind.partition(":")[0] if ":" in kind else ""
    _insert(conn, "email_ledger", email_key=f"{COHORT}|{to}|{kind}|{per_run}", ref=f"ref-{to}-{kind}",
            cohort_id=COHORT, recipient=to, recipient_name=to, kind=kind, status="sent", decided_run_id=RUN,
            sent_run_id=RUN, attempts=1, created_at=AS_OF, updated_at=AS_OF, sent_at=AS_OF,
            provider_message_id=f"gm-{to}-{kind}", stage=stage, per_run_id=per_run)


def write(engine) -> None:
    """The cohort of this module's docstring into a migrated state database."""
    inputs = {"cohort": {"title": "Trial accounts", "timezone": "UTC", "deadline": "2026-12-31", "journey": "trial",
                         "journey_spec": {"stages": [{"id": s, "title": t} for s, t in STAGES]}}}
    with engine.begin() as conn:
        _insert(conn, "runs", run_id=RUN, cohort_id=COHORT, as_of=AS_OF, dry_run=0, status="done", error=None,
                inputs=json.dumps(inputs), counts=None, started_at=AS_OF, updated_at=AS_OF)
        for i in range(130):
            to = email(i)
            _insert(conn, "customer_status", run_id=RUN, cohort_id=COHORT, email=to, name=f"P{i:03d}",
                    completed_at=None, status=standing(i))
            _insert(conn, "signups", run_id=RUN, cohort_id=COHORT, source_row=i + 2, email=to, name=f"P{i:03d}",
                    signed_up_at="2026-11-20T09:00:00.000000Z")
            waits = (("details", "awaiting_approval", "instructor") if i < 40 else
                     ("csm", "waiting_for_csm", "instructor") if i < 60 else
                     ("details", "overdue", "instructor") if i < 70 else
                     ("details", "overdue", "csm") if i < 72 else
                     (f"https://support.example/t/{i}", "open_query", "instructor") if 75 <= i < 78 else None)
            if waits:
                _insert(conn, "journey_waiting", run_id=RUN, cohort_id=COHORT, email=to, item=waits[0],
                        standing=waits[1], waits_on=waits[2], csm_email=csm_of(i) if waits[2] == "csm" else None,
                        since=AS_OF, escalated=int(waits[2] == "csm"))
            for order, (stage, outcome, done) in enumerate(_visits(i), 1):
                _insert(conn, "journey_visits", run_id=RUN, cohort_id=COHORT, email=to, stage=stage, visit=1,
                        entered_at="2026-11-20T09:00:00.000000Z", due_at=None,
                        completed_at="2026-11-21T09:00:00.000000Z" if done else None, score=None, outcome=outcome,
                        decided_at=None, decided_by=None, link=None, stage_order=order)
            if csm_of(i):
                _insert(conn, "csm_assignments", cohort_id=COHORT, email=to, csm_email=csm_of(i),
                        csm_name=CSMS[csm_of(i)], assigned_at=AS_OF, run_id=RUN)
        for kind in ("verification:verification", "verification:reminder_1", "verification:reminder_2",
                     "details:details_form", "details:reminder_1", "details:reminder_2"):
            _sent(conn, email(0), kind)
        for i in range(100, 130):
            _sent(conn, email(i), "verification:reminder_1")
        _sent(conn, "lead@example.com", "summary", per_run=RUN)
        for row in range(230):
            _insert(conn, "quarantine", run_id=RUN, cohort_id=COHORT, source="signups", source_row=row + 2,
                    column_name="signed_up_at", reason="not a date", file="/exports/signups.csv",
                    value=f"bad-{row}", email=None)
        for n in range(120):
            _insert(conn, "orphan_completions", run_id=RUN, cohort_id=COHORT, email=f"o{n:03d}@z.org",
                    completed_at="2026-11-25T10:00:00.000000Z", source_row=n + 2)
