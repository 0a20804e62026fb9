"""An email kind added to the seed journey is one change to its definition (``journeys.SEED``):
decided by the one engine, offered by the trigger form, counted, and reported in its own column
of the instructor's status tab, with no other list to update."""
from __future__ import annotations

import csv
import dataclasses

from helpers import csv_cohort, local, run_stages, world_clock
from onboarding.decisions import form_kinds, rivals
from onboarding.journeys import SEED
from onboarding.reporting.sheet import status_header

# The seed with one more email: an introduction on entering its stage (at signup).
INTRO_SEED = dataclasses.replace(SEED, stages=(dataclasses.replace(SEED.stages[0], emails_on_enter=("intro",)),))


def test_the_seed_kinds_come_from_its_definition():
    assert SEED.ledger_kinds() == ("reminder", "cancellation", "welcome")
    assert status_header(SEED)[-3:] == ["Reminder", "Cancellation", "Welcome"]
    assert INTRO_SEED.is_seed and INTRO_SEED.ledger_kinds() == ("intro", "reminder", "cancellation", "welcome")
    assert status_header(INTRO_SEED)[-4:] == ["Intro", "Reminder", "Cancellation", "Welcome"]
    # An email on entering is the form's "stage" kind; the welcome and the cancellation stay rivals.
    assert form_kinds(SEED) == ("reminder", "cancellation", "welcome")
    assert form_kinds(INTRO_SEED) == ("reminder", "cancellation", "welcome", "stage")
    assert rivals(INTRO_SEED) == {"cancellation": ("welcome",), "welcome": ("cancellation",)}


def test_a_kind_added_to_the_seed_is_decided_sent_and_reported(engine, tmp_path):
    from onboarding.reporting import summary
    from onboarding.store import Store

    (tmp_path / "signups.csv").write_text("Email,Name,When\nann@x.org,Ann Lee,2026-11-01T10:00\n"
                                          "bob@x.org,Bob Roe,2026-11-01T11:00\n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nbob@x.org,2026-11-20T01:00:00Z\n")
    cohort = csv_cohort(tmp_path, journey_spec=INTRO_SEED)
    with world_clock("2026-12-02T07:00:00+11:00"):
        ctx, _ = run_stages(engine, cohort, tmp_path, local(2026, 12, 2), "night-1")
    with world_clock("2026-12-06T07:00:00+11:00"):
        ctx2, _ = run_stages(engine, cohort, tmp_path, local(2026, 12, 6), "night-2")

    sent = sorted(p.relative_to(tmp_path / "outbox" / "c1").parts[0:1] + (p.name.split(".")[0],)
                  for p in (tmp_path / "outbox" / "c1").rglob("*.eml") if "summary" not in p.parts)
    # Each intro once (the second night finds it sent), beside the seed's own emails.
    assert sent == [("cancellation", "ann@x"), ("intro", "ann@x"), ("intro", "bob@x"), ("reminder", "ann@x"),
                    ("welcome", "bob@x")]
    data = summary.collect(Store(engine), cohort, "night-1")
    assert data["by_kind"]["sent"]["intro"] == 2
    assert "intros sent 2" in summary.one_line(cohort, data)
    with (ctx2.folder("c1") / "report" / "status.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Email", "Name", "Status", "Completed at", "Signed up at", "Intro", "Reminder",
                       "Cancellation", "Welcome"]
    by_email = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    # Sent (on the clock of the machine that sent it), or blank where none went out.
    assert [by_email["ann@x.org"][k][:5] for k in ("Intro", "Reminder", "Cancellation", "Welcome")] == [
        "sent ", "sent ", "sent ", ""]
    assert [by_email["bob@x.org"][k][:5] for k in ("Intro", "Reminder", "Cancellation", "Welcome")] == [
        "sent ", "", "", "sent "]
