"""A customer's page as a timeline (issue point 10): her standing and dates on top, then what
happened, newest first, one line per change, in plain words, from real runs of the stages."""
from __future__ import annotations

import re

from helpers import csv_cohort, local, run_stages, world_clock


def test_her_page_reads_newest_first_one_line_per_change_in_plain_words(engine, tmp_path):
    from onboarding.reporting.page import PageReads
    from onboarding.store import Store

    (tmp_path / "signups.csv").write_text("Email,Name,When\nann@x.org,Ann Lee,2026-11-01T10:00\n"
                                          "bob@x.org,Bob Roe,2026-11-01T11:00\n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\nbob@x.org,2026-11-20T01:00:00Z\n")
    cohort = csv_cohort(tmp_path)
    with world_clock("2026-12-02T07:00:00+11:00"):
        run_stages(engine, cohort, tmp_path, local(2026, 12, 2), "scheduled__2026-12-01T19:00:00+00:00")
    with world_clock("2026-12-03T07:00:00+11:00"):  # the reminder again: already sent, no new line
        run_stages(engine, cohort, tmp_path, local(2026, 12, 3), "manual__2026-12-03T06:00:00+11:00")
    with world_clock("2026-12-06T07:00:00+11:00"):
        run_stages(engine, cohort, tmp_path, local(2026, 12, 6), "scheduled__2026-12-05T19:00:00+00:00")
    p = PageReads(Store(engine), None).customer("c1", "Ann@x.org")

    assert p["header"]["standing"] == "missed the deadline" and p["header"]["signed_up"] == "Sun 01 Nov 2026"
    assert p["header"]["last_email"].startswith("cancellation, ") and p["header"]["stopped"] == []
    texts = [t["text"] for t in p["timeline"]]
    at = [t["at"] for t in p["timeline"]]
    assert at == sorted(at, reverse=True)  # newest first
    assert texts[-1] == "First in the export: not completed yet"
    assert "Now missed the deadline" in texts
    # One line per change: the reminder decided once and sent once, whatever the reruns said.
    assert texts.count("Reminder email: to be sent") == 1 and texts.count("Reminder email sent") == 1
    assert texts.count("Cancellation email: to be sent") == 1 and texts.count("Cancellation email sent") == 1
    # Her row in the export is named with each change of her standing (2 of the 3 nights), not every night.
    assert [t["text"] for t in p["timeline"] if "signup row 2 of signups.csv" in t["detail"]] == [
        "Now missed the deadline", "First in the export: not completed yet"]
    assert not [t for t in p["timeline"] if t["run_id"] == "manual__2026-12-03T06:00:00+11:00"]
    # Plain words: no outcome codes, no Airflow run ids in what she reads (they stay in links' titles).
    shown = " ".join(f"{t['text']} {t['detail']} {t['run']}" for t in p["timeline"])
    assert not re.search(r"already_sent|\bdue\b|manual__|scheduled__|_", shown), shown
    runs = {t["run_id"]: t["run"] for t in p["timeline"] if t["run_id"]}
    assert runs["scheduled__2026-12-05T19:00:00+00:00"] == "the nightly run"


def test_her_stops_and_restarts_are_on_her_page_with_who(engine, tmp_path):
    from onboarding.cohorts import CohortFile
    from onboarding.pipeline import privacy
    from onboarding.reporting.page import PageReads
    from onboarding.store import Store

    (tmp_path / "signups.csv").write_text("Email,Name,When\nann@x.org,Ann Lee,2026-11-01T10:00\n")
    (tmp_path / "completions.csv").write_text("user_email,completed_at\n")
    cohort = csv_cohort(tmp_path)
    run_stages(engine, cohort, tmp_path, local(2026, 11, 27))
    store = Store(engine)
    found = CohortFile(tmp_path / "cohorts.yaml", {"c1": cohort}, {}, ("c1",))
    privacy.suppress(store, found, "ann@x.org", "c1", "asked by phone", "ines")
    p = PageReads(store, None).customer("c1", "ann@x.org")
    assert [s["reason"] for s in p["header"]["stopped"]] == ["manual"]
    assert p["timeline"][0]["text"] == "Emails stopped in this cohort by ines" and p["timeline"][0]["detail"] == "asked by phone"
    privacy.restart(store, found, "ann@x.org", "c1", "she called back", "olga")
    p = PageReads(store, None).customer("c1", "ann@x.org")
    assert p["header"]["stopped"] == [] and p["timeline"][0]["text"] == "Emails restarted in this cohort by olga"
