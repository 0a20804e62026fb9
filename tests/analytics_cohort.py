"""A small cohort written row by row into a state database, whose analytics were worked out by
hand (tests/test_analytics_views.py checks them; tests/test_onboarding_ui.py shows them).

The cohort ``c1`` (times UTC), whose latest decided run is ``r1`` (10 Dec); a later run ``r2`` was
held (its standings are not trusted), an earlier one ``r0`` is superseded, and the run ``rem`` of
4 Dec 00:00 sent the reminders (the ledger's wall clock, ``sent_at``, is weeks later, as in a
replayed night: analytics time an email by its night):

    customer  standing        signed up    completed       hours  reminded
    a         on_time         1 Nov 00:00  2 Nov 00:00        24  -
    b         on_time         1 Nov 00:00  3 Nov 00:00        48  -
    c         completed_late  1 Nov 00:00  6 Nov 00:00       120  4 Nov
    d         on_time         1 Nov 00:00  5 Nov 12:00       108  4 Nov
    e         missed          1 Nov 00:00  -                      4 Nov
    f         held            1 Nov 00:00  -                      -
    g         pending         1 Nov 00:00  -                      4 Nov

By hand: 7 entered; 4 completed (conversion 4/7), 1 dropped out (drop-off 1/7), 1 held, 1 open.
Completion hours sorted 24, 48, 108, 120: nearest-rank median = the 2nd (48), p90 = the 4th (120).
Reminder night 4 Nov 00:00: completions in the 48 h after it: d only (c at exactly +48 h is
outside) = 1, 0.5 a day; in the 7 days before: a, b = 2, 2/7 a day; lift 0.5 / (2/7) = 1.75.
Of the 4 reminded, d completed within 48 h of their reminder: 1.
"""
from __future__ import annotations

import sqlalchemy as sa

NOW = "2026-11-27T10:00:00.000000Z"  # the ledger's wall clock (not the nights)

CUSTOMERS = {  # email: (standing, completed_at)
    "a@x.org": ("on_time", "2026-11-02T00:00:00.000000Z"),
    "b@x.org": ("on_time", "2026-11-03T00:00:00.000000Z"),
    "c@x.org": ("completed_late", "2026-11-06T00:00:00.000000Z"),
    "d@x.org": ("on_time", "2026-11-05T12:00:00.000000Z"),
    "e@x.org": ("missed", None),
    "f@x.org": ("held", None),
    "g@x.org": ("pending", None),
}
REMINDED = ("c@x.org", "d@x.org", "e@x.org", "g@x.org")


def _insert(conn, table: str, **row):
    cols = ", ".join(row)
    conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})"), row)


def _run(conn, run_id, as_of, status="done", dry_run=0, cohort="c1", error=None):
    _insert(conn, "runs", run_id=run_id, cohort_id=cohort, as_of=as_of, dry_run=dry_run, status=status, error=error,
            inputs=None, counts=None, started_at=as_of, updated_at=as_of)


def _sent(conn, email, kind, run_id, cohort="c1"):
    key = f"{cohort}|{email}|{kind}"
    _insert(conn, "email_ledger", email_key=key, ref=f"onb-{kind}-{email}", cohort_id=cohort,
            recipient=email, recipient_name=email[0].upper(), kind=kind, status="sent", decided_run_id=run_id,
            sent_run_id=run_id, attempts=1, created_at=NOW, updated_at=NOW, sent_at=NOW,
            provider_message_id=f"gm-{email}-{kind}")


def write(engine) -> None:
    """The cohort of this module's docstring (and a second cohort, c2) into a migrated state database."""
    with engine.begin() as conn:
        _run(conn, "r0", "2026-11-20T00:00:00.000000Z")
        _run(conn, "rem", "2026-11-04T00:00:00.000000Z")
        _run(conn, "r1", "2026-12-10T00:00:00.000000Z")
        _run(conn, "r2", "2026-12-11T00:00:00.000000Z", status="held", error="completions shrank by 40%")
        _run(conn, "r9", "2026-12-12T00:00:00.000000Z", dry_run=1)  # a dry run is never the latest
        for i, (email, (status, done)) in enumerate(CUSTOMERS.items()):
            for run in ("r0", "r1", "r2"):
                # r0 and r2 say something else about everyone: only r1 may count.
                _insert(conn, "customer_status", run_id=run, cohort_id="c1", email=email, name=email[0].upper(),
                        completed_at=done, status=status if run == "r1" else "missed")
            _insert(conn, "signups", run_id="r1", cohort_id="c1", source_row=i + 2, email=email,
                    name=email[0].upper(), signed_up_at="2026-11-01T00:00:00.000000Z")
        # a signed up twice: the newest signup counts (1 Nov), not this one.
        _insert(conn, "signups", run_id="r1", cohort_id="c1", source_row=20, email="a@x.org", name="A",
                signed_up_at="2026-10-25T00:00:00.000000Z")
        for email in REMINDED:
            _sent(conn, email, "reminder", "rem")
        _sent(conn, "a@x.org", "welcome", "r1")
        _sent(conn, "e@x.org", "cancellation", "r1")
        # Another cohort, to show the views keep cohorts apart.
        _run(conn, "r1", "2026-12-10T00:00:00.000000Z", cohort="c2")
        _insert(conn, "customer_status", run_id="r1", cohort_id="c2", email="z@x.org", name="Z",
                completed_at=None, status="missed")
