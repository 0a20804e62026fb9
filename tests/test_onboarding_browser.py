"""The Onboarding page as the instructor meets it: ``airflow standalone`` (the embedded default:
LocalExecutor on SQLite, no PostgreSQL or Redis) started on a free port with this project's
plugins folder, and headless Chromium logging in, opening "Onboarding" in Airflow's navigation,
reading the cohort's funnel (the hand-worked cohort of ``analytics_cohort.py``), searching a
customer and opening her timeline; and the page at a phone's 375 px width (the summary email on a
phone: ``test_summary_browser.py``).
Screenshots go to ``var/test-artifacts/``.

Needs Debian's Chromium (``scripts/install-chromium.sh``): skipped where it is missing, except in
CI, where it fails.
"""
from __future__ import annotations

import json
import re
import time

import pytest

import analytics_cohort
from browser_support import ARGS, ARTIFACTS, CHROMIUM, airflow_standalone, need_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """``airflow standalone`` with the plugin, its state database holding the hand-worked cohort."""
    need_chromium()
    home = tmp_path_factory.mktemp("standalone")
    from onboarding.store import db

    state = home / "state.db"
    engine = db.make_engine(f"sqlite:///{state}")
    db.migrate(engine)
    analytics_cohort.write(engine)
    engine.dispose()
    # The requests of her page (resend, do not email) check the cohort file: c1 is in it.
    (home / "c1.csv").write_text("Email,Name,Done\n")
    (home / "cohorts.yaml").write_text(json.dumps({"cohorts": [{
        "id": "c1", "title": "c1", "deadline": "2026-11-05", "timezone": "UTC",
        "sender": "Team <team@example.edu>", "instructor": "boss@example.edu",
        "sources": {"signups": {"type": "csv", "path": str(home / "c1.csv"), "columns": {"email": "Email", "name": "Name"}},
                    "completions": {"type": "csv", "path": str(home / "c1.csv"),
                                    "columns": {"email": "Email", "completed_at": "Done"}}}}]}))
    with airflow_standalone(home, state, home / "cohorts.yaml", timeout=240) as started:
        yield started


def test_the_instructor_finds_her_cohort_and_a_customer_in_airflow(standalone):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{standalone['port']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # Not logged in: the page refuses and serves nothing.
            assert page.goto(f"{base}/onboarding/cohorts/c1").status == 401
            page.goto(f"{base}/")
            page.get_by_label("Username").fill("instructor")
            page.get_by_label("Password").fill(standalone["password"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Onboarding").click()  # Airflow's own navigation
            frame = page.frame_locator("iframe").first
            frame.get_by_role("heading", name="Cohorts").wait_for(timeout=60000)
            card = frame.locator('[data-cohort="c1"]')
            assert "held by a guard" in card.inner_text() and "completions shrank by 40%" in card.inner_text()
            page.screenshot(path=str(ARTIFACTS / "onboarding-cohorts.png"))
            started = time.monotonic()
            card.get_by_role("link", name="c1").click()
            # What follows the table is there: the table is parsed whole (a large page arrives in parts).
            frame.locator("#stages").wait_for(timeout=60000)
            load = time.monotonic() - started
            funnel = {r.get_attribute("data-step"): r.locator("td").nth(1).inner_text()
                      for r in frame.locator("#funnel tr[data-step]").all()}
            assert funnel == {"signed_up": "7", "reminded": "4", "on_time": "3", "completed_late": "1",
                              "missed": "1", "pending": "1", "held": "1"}
            assert "1.75x" in frame.locator("#reminder").inner_text()
            page.screenshot(path=str(ARTIFACTS / "onboarding-cohort.png"), full_page=True)
            frame.get_by_label("Search customers").fill("E@X.ORG")
            frame.get_by_role("button", name="Search").click()
            # The unfiltered table already holds e@x.org: wait for the search's answer (one row),
            # not for a row that was there before the click.
            expect(frame.locator("#customer-table tr[data-email]")).to_have_count(1, timeout=60000)
            assert frame.locator('#customer-table tr[data-email="e@x.org"]').count() == 1
            frame.locator('tr[data-email="e@x.org"]').get_by_role("link").click()
            # What follows the table is there: the table is parsed whole (a large page arrives in parts).
            frame.locator("#technical").wait_for(state="attached", timeout=60000)  # the end of her page
            kinds = sorted(r.get_attribute("data-kind") for r in frame.locator("#emails tr[data-kind]").all())
            assert kinds == ["cancellation", "reminder"]
            page.screenshot(path=str(ARTIFACTS / "onboarding-customer.png"), full_page=True)

            # Her page's actions: a resend answers the reference to trigger the Dag with.
            resend = frame.locator("#resend-form")
            resend.get_by_label("Email").select_option("reminder")
            resend.get_by_label("Reason").fill("she lost it")
            resend.get_by_role("button", name="Ask for a resend").click()
            expect(resend.locator(".answer")).to_contain_text("Resend reference = resend-", timeout=30000)
            answer = resend.locator(".answer").inner_text()
            ref = re.search(r"Resend kept: (resend-[0-9a-f]{16})", answer).group(1)
            assert f"Cohort = c1, Resend one email ticked and Resend reference = {ref}" in answer
            assert resend.get_by_role("link", name="Open the Dag (then press Trigger)").get_attribute("href") == \
                "/dags/onboarding_nightly"
            suppress = frame.locator("#suppress-form")
            suppress.get_by_label("Note").fill("asked by phone")
            suppress.get_by_role("button", name="Do not email her").click()
            expect(suppress.locator(".answer")).to_contain_text("Done: no email will go to e@x.org in cohort c1",
                                                                timeout=30000)
            # Erase her, once she ticked that it cannot be undone (a confirm() would answer false
            # unseen in Airflow's sandboxed iframe): the answer says what went, and her page is gone.
            erase = frame.locator("#erase-form")
            erase.get_by_label("Reason").fill("asked by phone")
            erase.get_by_role("button", name="Erase her").click()
            assert erase.locator(".answer").inner_text() == ""  # the browser refused: the box is not ticked
            erase.get_by_label("I understand").check()
            erase.get_by_role("button", name="Erase her").click()
            expect(erase.locator(".answer")).to_contain_text("Her page no longer exists", timeout=30000)
            assert "scope: c1" in erase.locator(".answer").inner_text()
            page.screenshot(path=str(ARTIFACTS / "onboarding-customer-actions.png"), full_page=True)
            assert page.request.get(f"{base}/onboarding/api/cohorts/c1/customers/e@x.org").status == 404

            # On a phone: the cohort page itself at 375 px scrolls down, never sideways (wide
            # tables scroll inside their own box).
            phone = browser.new_page(viewport={"width": 375, "height": 800})
            phone.context.add_cookies(page.context.cookies())
            assert phone.goto(f"{base}/onboarding/cohorts/c1").status == 200
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375
            phone.screenshot(path=str(ARTIFACTS / "onboarding-cohort-375px.png"), full_page=True)
        finally:
            browser.close()
    print(f"\nairflow standalone up in {standalone['start_seconds']:.0f}s; cohort page opened in {load:.2f}s; "
          f"screenshots in {ARTIFACTS}")

