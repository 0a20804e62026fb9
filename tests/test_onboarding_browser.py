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
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

import analytics_cohort
from helpers import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "var" / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
pytestmark = pytest.mark.browser


def _need_chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI must have it)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/install-chromium.sh)")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """``airflow standalone`` with the plugin, its state database holding the hand-worked cohort."""
    _need_chromium()
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
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update({
        "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "instructor:user",  # may run the Dag: her page's requests need it
        "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-" + os.urandom(16).hex(),
        "AIRFLOW_CONN_ONBOARDING_STATE": json.dumps({"conn_type": "sqlite", "host": str(state)}),
        "ONBOARDING_COHORTS_FILE": str(home / "cohorts.yaml"), "ONBOARDING_DATA_DIR": str(home / "data"),
        "GX_ANALYTICS_ENABLED": "false", "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    })
    log = open(home / "standalone.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    passwords = home / "airflow" / "simple_auth_manager_passwords.json.generated"
    started = time.monotonic()
    try:
        while True:
            assert proc.poll() is None, (home / "standalone.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2)
                if passwords.exists():
                    break
            except OSError:
                pass
            assert time.monotonic() - started < 240, "airflow standalone did not start"
            time.sleep(1)
        yield {"port": port, "password": json.loads(passwords.read_text())["instructor"], "home": home,
               "start_seconds": time.monotonic() - started}
    finally:
        stop_group(proc, log)


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
            expect(resend.locator(".answer")).to_contain_text("Resend request = resend-", timeout=30000)
            answer = resend.locator(".answer").inner_text()
            ref = re.search(r"Resend kept: (resend-[0-9a-f]{16})", answer).group(1)
            assert f"Cohort = c1 and Resend request = {ref}" in answer
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

