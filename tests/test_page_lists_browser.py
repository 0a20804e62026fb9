"""The Onboarding page's lists (issue "the instructor's day in a real browser", points 4-6): for a
journey cohort (``journey_page_cohort.py``, every count known by construction) the page says what
needs her first, each count leading to its list; its customers' emails and reminders are the
journey's (they showed "none" and "No reminder has been sent yet"); its CSMs; customers filtered by
standing, stage, CSM and what they wait for; the quarantine and orphans a page at a time; the
comparison counts a journey as a journey (it showed 0% on time).

Through Airflow's api-server app (``ui_client``) on SQLite and PostgreSQL; and in headless
Chromium (``airflow standalone``, marked ``browser``) as she clicks through it.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

import analytics_cohort
import journey_page_cohort as jc
import ui_client
from browser_support import ARGS, ARTIFACTS, CHROMIUM, airflow_standalone, log_in, need_chromium

C = jc.COHORT


@pytest.fixture
def ui(airflow_db, engine, monkeypatch, tmp_path):
    analytics_cohort.write(engine)
    jc.write(engine)
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(tmp_path / "no-such-cohorts.yaml"))
    return ui_client.client()


def _api(ui, path="", **params):
    r = ui.get(f"/onboarding/api/cohorts/{C}{path}", params=params, headers=ui_client.bearer(ui_client.token()))
    assert r.status_code == 200, r.text
    return r.json()


def _html(ui, url):
    r = ui.get(url, headers={**ui_client.bearer(ui_client.token()), "accept": "text/html"})
    assert r.status_code == 200, (url, r.status_code)
    return r.text


def test_what_needs_her_comes_first_and_each_count_leads_to_its_list(ui):
    page = _api(ui)
    needs = {n["what"]: n for n in page["needs"]}
    # Her share of who waits on a person, as her summary counts it (70-71 wait on their CSM).
    assert {k: n["n"] for k, n in needs.items()} == {
        "awaiting_approval": 40, "waiting_for_csm": 20, "overdue": 10, "open_query": 3,
        "held": 3, "quarantine": 230, "orphans": 120}
    for n in needs.values():
        if n["list"]:  # the list it leads to holds exactly the people counted
            assert _api(ui, **n["list"])["total"] == n["n"], n
    html = _html(ui, f"/onboarding/cohorts/{C}")
    assert html.index('id="needs"') < html.index("<h2>Funnel</h2>") < html.index('id="customers"')
    approvals = re.search(r'<li data-need="awaiting_approval">(.*?)</li>', html, re.S).group(1)
    assert 'href="/required_actions"' in approvals  # Airflow's Required Actions page
    links = dict(re.findall(r'<li data-need="(\w+)">.*?href="([^"]+)"', html, re.S))
    assert parse_qs(urlsplit(links["overdue"].replace("&amp;", "&")).query) == {"needs": ["overdue"], "on": ["instructor"]}
    assert links["quarantine"] == f"/onboarding/cohorts/{C}/quarantine"
    # The Cohorts page says the same (it listed only the quarantined rows).
    (card,) = [c for c in ui.get("/onboarding/api/cohorts", headers=ui_client.bearer(ui_client.token())).json()
               if c["id"] == C]
    waits = {w["what"] for w in card["waits"]}
    # ... and counts a journey's customers by where they are (it showed on time 0, late 0, missed 0).
    assert card["journey_counts"] == {"finished": 15, "dropped": 10, "held": 3, "in_progress": 102}
    assert {"quarantine", "awaiting_approval", "waiting_for_csm", "overdue", "open_query", "customers"} <= waits


def test_a_journey_customers_emails_and_reminders_are_the_journeys(ui):
    page = _api(ui, q=jc.email(0))
    (first,) = page["customers"]
    assert len(first["emails"]) == 6 and {e["state"] for e in first["emails"]} == {"sent"}
    assert _api(ui, q="lead@example.com")["total"] == 0  # her summary is no customer's email
    r = page["journey_reminders"]
    assert r["sent"] == jc.REMINDERS
    assert {s["stage"]: s["sent"] for s in r["stages"]} == {"verification": jc.REMINDERS - jc.DETAILS_REMINDERS,
                                                            "details": jc.DETAILS_REMINDERS}
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _html(ui, f"/onboarding/cohorts/{C}")))
    assert f"{jc.REMINDERS} reminder(s) sent" in text and "No reminder has been sent yet" not in text


def test_customers_filtered_by_standing_stage_csm_and_what_they_wait_for(ui):
    assert _api(ui)["total"] == 130 and _api(ui)["pages"] == 2
    assert _api(ui, standing="held")["total"] == 3
    assert _api(ui, stage="details")["total"] == 40 + 12
    assert _api(ui, csm="priya@example.com")["total"] == 8  # 70 and the even ones of 75-89
    assert _api(ui, needs="any")["total"] == 75
    assert _api(ui, needs="overdue", on="csm")["total"] == 2
    both = _api(ui, stage="details", needs="awaiting_approval", q="p03")
    assert [c["email"] for c in both["customers"]] == [jc.email(i) for i in range(30, 40)]
    # A page of a filtered list keeps its filter.
    html = _html(ui, f"/onboarding/cohorts/{C}?needs=any")
    assert 'href="?needs=any&amp;page=2#customers"' not in html  # 75: one page
    html = _html(ui, f"/onboarding/cohorts/{C}?stage=verification&page=1")
    assert "30 customer(s) (stage: Verify your email)" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    # Each row of where they stand, and each CSM, leads to its people.
    html = _html(ui, f"/onboarding/cohorts/{C}")
    row = re.search(r'<tr data-stage="csm" data-standing="waiting for csm">(.*?)</tr>', html, re.S).group(1)
    assert "standing=csm%3A+waiting_for_csm" in row and ">20</a>" in row
    csms = {m["csm_email"]: (m["customers"], m["waiting"], m["waiting_on_csm"]) for m in _api(ui)["csms"]}
    assert csms == {"priya@example.com": (8, 2, 1), "sam@example.com": (9, 3, 1)}


def test_quarantine_and_orphans_a_page_at_a_time(ui):
    page = _api(ui)
    assert (len(page["quarantine"]), page["quarantine_total"]) == (20, 230)
    for what, total, last in (("quarantine", 230, 30), ("orphans", 120, 20)):
        html = _html(ui, f"/onboarding/cohorts/{C}/{what}?page=1")
        assert f"{total} in the last run" in html and html.count("<tr><td") == 100
        html = _html(ui, f"/onboarding/cohorts/{C}/{what}?page=99")  # past the end: the last page
        assert html.count("<tr><td") == last
    assert ui.get(f"/onboarding/cohorts/{C}/nothing", headers=ui_client.bearer(ui_client.token())).status_code == 404


def test_the_comparison_counts_a_journey_as_a_journey(ui):
    rows = {r["cohort_id"]: r for r in ui.get("/onboarding/api/comparison",
                                              headers=ui_client.bearer(ui_client.token())).json()}
    j = rows[C]
    assert (j["finished"], j["dropped"], j["in_progress"], j["on_time_pct"]) == (15, 10, 130 - 15 - 10 - 3, "")
    assert rows["c1"]["on_time_pct"] == "43%"  # a course's is unchanged
    html = _html(ui, "/onboarding/compare")
    row = re.search(rf'<tr data-cohort="{C}" data-journey>(.*?)</tr>', html, re.S).group(1)
    assert "no single deadline" in row and re.findall(r">(\d+%)<", row) == ["12%", "8%"]  # finished, drop-off


def test_the_kept_figures_follow_the_ledger(ui, engine):
    assert _api(ui)["journey_reminders"]["sent"] == jc.REMINDERS
    with engine.begin() as conn:  # a reminder sent later: the page's kept figures are stale now
        conn.execute(sa.text(
            "INSERT INTO email_ledger (email_key, ref, cohort_id, recipient, recipient_name, kind, status, "
            "decided_run_id, sent_run_id, attempts, created_at, updated_at, sent_at, stage) VALUES ('k', 'r', :c, "
            "'p001@y.org', 'P001', 'details:reminder_1', 'sent', :r, :r, 1, :t, '2026-12-03T00:00:00Z', :t, 'details')"),
            {"c": C, "r": jc.RUN, "t": jc.AS_OF})
    assert _api(ui)["journey_reminders"]["sent"] == jc.REMINDERS + 1


# --- in a browser ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """``airflow standalone`` with the plugin, its state database holding both cohorts."""
    need_chromium()
    home = tmp_path_factory.mktemp("lists")
    from onboarding.store import db

    state = home / "state.db"
    engine = db.make_engine(f"sqlite:///{state}")
    db.migrate(engine)
    analytics_cohort.write(engine)
    jc.write(engine)
    engine.dispose()
    with airflow_standalone(home, state, home / "no-such-cohorts.yaml") as started:
        yield started


@pytest.mark.browser
def test_she_goes_from_what_needs_her_to_the_people_in_a_browser(standalone):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{standalone['port']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, base, standalone["password"])
            page.get_by_role("link", name="Onboarding").click()  # Airflow's own navigation
            frame = page.frame_locator("iframe").first
            card = frame.locator(f'[data-cohort="{C}"]')
            card.wait_for(timeout=60000)
            assert "40 customer(s) wait for your approval" in card.inner_text()
            # A journey's card counts where its customers are (it showed on time 0, late 0, missed 0).
            assert [card.locator(f"[data-count={k}] b").inner_text() for k in ("finished", "dropped", "in_progress")] \
                == ["15", "10", "102"]
            card.get_by_role("link", name="Trial accounts").click()
            needs = frame.locator("#needs")
            needs.wait_for(timeout=60000)
            # What needs her is the first thing on the page, above the fold.
            assert frame.locator("#needs").bounding_box()["y"] < 1000
            assert needs.locator('[data-need="awaiting_approval"] a', has_text="Required Actions").get_attribute(
                "href") == "/required_actions"
            page.screenshot(path=str(ARTIFACTS / "page-lists-needs.png"))
            # The customer of six emails shows them, and the reminders are counted.
            frame.get_by_label("Search customers").fill(jc.email(0))
            frame.get_by_role("button", name="Search").click()
            expect(frame.locator("#customer-table tr[data-email]")).to_have_count(1, timeout=60000)
            assert frame.locator(f'tr[data-email="{jc.email(0)}"] [data-kind]').count() == 6
            assert f"{jc.REMINDERS} reminder(s) sent" in frame.locator("#reminder").inner_text()
            # Overdue: the count leads to exactly those people.
            frame.locator('[data-need="overdue"]').get_by_role("link", name="list them").click()
            expect(frame.locator("#customers-found")).to_contain_text("10 customer(s)", timeout=60000)
            assert frame.locator("#customer-table tr[data-email]").count() == 10
            # Filter by CSM with the form.
            frame.get_by_label("Search customers").fill("")
            frame.get_by_label("Needs a person", exact=True).select_option("")
            frame.get_by_label("CSM", exact=True).select_option("sam@example.com")
            frame.get_by_role("button", name="Search").click()
            expect(frame.locator("#customers-found")).to_contain_text("9 customer(s)", timeout=60000)
            # A stage's row leads to the people in it now.
            frame.locator('#journey-standings tr[data-stage="csm"]').get_by_role("link").click()
            expect(frame.locator("#customers-found")).to_contain_text("20 customer(s)", timeout=60000)
            # The quarantine, linked from what needs her, a page at a time.
            frame.locator('[data-need="quarantine"]').get_by_role("link", name="list them").click()
            expect(frame.locator("#rows-found")).to_contain_text("page 1 of 3", timeout=60000)
            assert frame.locator("#rows tr:has(td)").count() == 100
            frame.get_by_role("link", name="next").click()
            expect(frame.locator("#rows-found")).to_contain_text("page 2 of 3", timeout=60000)
            page.screenshot(path=str(ARTIFACTS / "page-lists-quarantine.png"), full_page=True)
            # Compare: the journey's own figures, no 0% on time.
            frame.get_by_role("link", name="Compare cohorts").click()
            row = frame.locator(f'#comparison tr[data-cohort="{C}"]')
            row.wait_for(timeout=60000)
            assert "no single deadline" in row.inner_text() and "0%" not in row.inner_text()
        finally:
            browser.close()
