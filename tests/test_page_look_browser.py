"""The Onboarding page's look and actions in a real browser (issue points 10 and 13): headless
Chromium against ``airflow standalone`` with the plugin (the fixture of
``test_onboarding_browser``). It follows Airflow's light/dark mode, its cards and tables fit at
1400 px and at a phone's 390 px, her page reads as a timeline, her emails are stopped and
restarted from it, a cohort's hold is released and a dry run started from the cohort page, and
the Required Actions link lists the requests not answered yet. Screenshots go to
``var/artefacts/screenshots/`` (CI keeps them).
"""
from __future__ import annotations

import json
import urllib.parse

import pytest

from browser_support import ARGS, CHROMIUM, PHONE, SHOTS, api, log_in, wait_for_dag
from test_onboarding_browser import standalone  # noqa: F401  (the module's fixture)

pytestmark = pytest.mark.browser

LUMINANCE = """(el) => { const m = getComputedStyle(el).backgroundColor.match(/\\d+(\\.\\d+)?/g).map(Number);
                         return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255; }"""


def _nothing_cut_off(page_or_frame) -> list[str]:
    """Elements whose content is wider than their box without a scroll box of their own to show it."""
    return page_or_frame.evaluate("""() => [...document.querySelectorAll('.card, .card *, section, h1, p, li, dl, form')]
        .filter(e => getComputedStyle(e).overflowX === 'visible' && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
        .map(e => e.tagName + '.' + e.className)""")


def test_the_page_follows_airflows_theme_and_fits_both_widths(standalone):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{standalone['port']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            # The browser prefers light; Airflow is set to Dark (its user menu stores "theme").
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="light")
            log_in(page, base, standalone["password"])
            page.evaluate("localStorage.setItem('theme', 'dark')")
            page.reload()
            page.get_by_role("link", name="Onboarding").click()
            frame = page.locator("iframe").first.element_handle(timeout=60000).content_frame()
            frame.get_by_role("heading", name="Cohorts").wait_for(timeout=60000)
            assert page.evaluate("document.documentElement.classList.contains('dark')")  # Airflow is dark
            expect(frame.locator("html")).to_have_attribute("data-theme", "dark")
            assert frame.locator("body").evaluate(LUMINANCE) < 0.2  # dark, not white
            # Its font is Airflow's (read from the parent page), not a font of its own.
            assert frame.locator("body").evaluate("e => getComputedStyle(e).fontFamily") == \
                page.evaluate("getComputedStyle(document.body).fontFamily")
            assert _nothing_cut_off(frame) == []
            page.screenshot(path=str(SHOTS / "cohorts-dark.png"))
            # Airflow switched to Light while the page is open: the page follows at once.
            page.evaluate("document.documentElement.classList.replace('dark', 'light')")
            expect(frame.locator("html")).to_have_attribute("data-theme", "light")
            assert frame.locator("body").evaluate(LUMINANCE) > 0.8
            page.evaluate("document.documentElement.classList.replace('light', 'dark')")
            expect(frame.locator("html")).to_have_attribute("data-theme", "dark")

            frame.locator('[data-cohort="c1"]').get_by_role("link", name="c1").click()
            frame.locator("#stages").wait_for(timeout=60000)
            assert _nothing_cut_off(frame) == []
            page.screenshot(path=str(SHOTS / "cohort-dark.png"), full_page=True)

            # Not framed (the page opened on its own) and nothing stored: the browser's preference.
            alone = browser.new_context(color_scheme="dark", viewport={"width": 390, "height": 844})
            alone.add_cookies(page.context.cookies())
            phone = alone.new_page()
            assert phone.goto(f"{base}/onboarding/").status == 200
            expect(phone.locator("html")).to_have_attribute("data-theme", "dark")
            # The cohort cards at 390 px: the standings wrap inside the card, nothing cut off or sideways.
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            assert _nothing_cut_off(phone) == []
            figures = phone.locator('[data-cohort="c1"] [data-figure]')
            assert figures.count() == 6 and all(f.is_visible() for f in figures.all())
            phone.screenshot(path=str(SHOTS / "cohorts-390px.png"), full_page=True)
            light = browser.new_context(color_scheme="light", viewport={"width": 390, "height": 844})
            light.add_cookies(page.context.cookies())
            cohort = light.new_page()
            assert cohort.goto(f"{base}/onboarding/cohorts/c1").status == 200
            assert cohort.evaluate("document.documentElement.scrollWidth") <= 390
            cohort.screenshot(path=str(SHOTS / "cohort-390px.png"), full_page=True)
            cohort.screenshot(path=str(SHOTS / "cohort.png"), full_page=True)
        finally:
            browser.close()


def test_her_page_is_a_timeline_at_390px_and_her_emails_stop_and_restart(standalone):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{standalone['port']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="light")
            log_in(page, base, standalone["password"])
            assert page.goto(f"{base}/onboarding/cohorts/c1/customers/d@x.org").status == 200
            # Her standing and dates on top, then what happened, newest first, in plain words.
            standing = page.locator("#standing")
            assert standing.locator(".status").inner_text().strip() != ""
            assert "Signed up" in standing.inner_text() and "Last email" in standing.inner_text()
            items = page.locator("#timeline > li")
            assert items.count() >= 2
            text = page.locator("#timeline").inner_text()
            for code in ("already_sent", "manual__", "scheduled__", "_"):
                assert code not in text, code
            assert page.locator("#technical").get_attribute("open") is None  # the run ids and refs: folded away
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(SHOTS / "customer-390px.png"), full_page=True)

            # Stop her emails, then restart them: each answer says what the next run does.
            suppress = page.locator("#suppress-form")
            suppress.get_by_label("Note").fill("asked by phone")
            suppress.get_by_role("button", name="Do not email her").click()
            expect(suppress.locator(".answer")).to_contain_text("The next run sends her nothing", timeout=30000)
            page.reload()
            expect(page.locator("#stopped")).to_contain_text("stopped: the address is suppressed (manual")
            # (the sample's nights are dated later than today: the line sits in time order among them)
            expect(page.locator("#timeline")).to_contain_text("Emails stopped in this cohort by instructor")
            restart = page.locator("#restart-form")
            restart.get_by_label("Note").fill("she called back")
            restart.get_by_role("button", name="Restart her emails").click()
            expect(restart.locator(".answer")).to_contain_text("the next run may email d@x.org again in cohort c1",
                                                               timeout=30000)
            restart.get_by_role("button", name="Restart her emails").click()  # nothing left to lift: said so
            expect(restart.locator(".answer")).to_contain_text("Not done: not restarted: her emails are not stopped",
                                                               timeout=30000)
            page.reload()
            expect(page.locator("#stopped")).to_have_text("allowed")
            expect(page.locator("#timeline")).to_contain_text("Emails restarted in this cohort by instructor")
            page.screenshot(path=str(SHOTS / "customer-restarted-390px.png"), full_page=True)

            # A resend, sent at once by a run the page starts (or later from the trigger form).
            resend = page.locator("#resend-form")
            resend.get_by_label("Reason").fill("she lost it")
            resend.get_by_role("button", name="Ask for a resend").click()
            expect(resend.locator(".answer")).to_contain_text("Resend kept: resend-", timeout=30000)
            ref = resend.locator(".answer .reference").inner_text().removeprefix("Resend kept: ")
            wait_for_dag(standalone["port"], standalone["password"])
            resend.get_by_role("button", name="Send it now (start a run)").click()
            expect(resend.locator(".answer .started")).to_contain_text("Started: manual__", timeout=30000)
            run_id = resend.locator(".answer .started").get_attribute("data-run")
            run = api(standalone["port"], standalone["password"], "GET",
                       f"/api/v2/dags/onboarding_nightly/dagRuns/{urllib.parse.quote(run_id)}")
            assert run["conf"]["resend_request"] == ref and "@" not in json.dumps(run["conf"])
            assert run["triggering_user_name"] == "instructor"
        finally:
            browser.close()


def test_the_cohort_page_releases_a_hold_and_starts_a_dry_run(standalone):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    port, password = standalone["port"], standalone["password"]
    base = f"http://127.0.0.1:{port}"
    wait_for_dag(port, password)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, base, password)
            page.get_by_role("link", name="Onboarding").click()
            frame = page.frame_locator("iframe").first
            frame.locator('[data-cohort="c1"]').get_by_role("link", name="c1").click()
            # c1's last run was held: the page says so and its actions are open.
            expect(frame.locator("#held-note")).to_contain_text("held by a guard", timeout=60000)
            release = frame.locator("#release-form")
            release.get_by_label("Guards").select_option("shrunk_completions")
            release.get_by_role("button", name="Release and run").click()
            expect(release.locator(".answer")).to_contain_text("Started: manual__", timeout=30000)
            # A new Dag is paused in this Airflow: the answer says the run waits until it is unpaused.
            assert "The Dag is paused" in release.locator(".answer").inner_text()
            released = release.locator(".answer p").first.inner_text().removeprefix("Started: ").rstrip(".")
            dry = frame.locator("#dry-run-form")
            dry.get_by_label("As of").fill("2026-11-05")
            dry.get_by_role("button", name="Start a dry run").click()
            expect(dry.locator(".answer")).to_contain_text("Started: manual__", timeout=30000)
            dried = dry.locator(".answer p").first.inner_text().removeprefix("Started: ").rstrip(".")
            page.screenshot(path=str(SHOTS / "cohort-actions.png"), full_page=True)
            runs = {r["dag_run_id"]: r for r in api(port, password, "GET",
                                                     "/api/v2/dags/onboarding_nightly/dagRuns")["dag_runs"]}
            assert runs[released]["conf"] == {"cohort": "c1", "as_of": None, "dry_run": False,
                                              "release_guards": ["shrunk_completions"]}
            assert runs[dried]["conf"] == {"cohort": "c1", "as_of": "2026-11-05", "dry_run": True, "release_guards": None}
            assert runs[released]["triggering_user_name"] == runs[dried]["triggering_user_name"] == "instructor"
            assert not any("@" in json.dumps(r["conf"]) for r in runs.values())

            # The Required Actions link lists the requests not answered yet (Airflow's own filter).
            link = frame.get_by_role("link", name="Approvals waiting")
            assert link.get_attribute("href") == "/required_actions?response_received=false"
            link.click()
            page.wait_for_url("**/required_actions?response_received=false", timeout=30000)
        finally:
            browser.close()


def test_the_trigger_form_fits_a_phone_with_the_resend_beside_the_cohort(standalone):  # noqa: F811
    """The trigger form at 390 px (issue 23 point 8): Email kinds, with every kind chosen, stays
    inside the screen (nothing scrolls sideways); the resend's tick-box and its reference stand in
    the one section that holds the cohort (a section of their own folded the cohort away when
    opened); and a resend ticked without its reference is answered in the form with the reason,
    before any run exists."""
    from playwright.sync_api import expect, sync_playwright

    port, password = standalone["port"], standalone["password"]
    base = f"http://127.0.0.1:{port}"
    wait_for_dag(port, password)
    # The runs a trigger form makes (manual ones): the scheduler's nightly run may come due meanwhile.
    def manual_runs():
        return {r["dag_run_id"] for r in api(port, password, "GET", "/api/v2/dags/onboarding_nightly/dagRuns")["dag_runs"]
                if r["run_type"] == "manual"}

    before = manual_runs()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            log_in(page, base, password)
            page.goto(f"{base}/dags/onboarding_nightly")
            page.get_by_role("button", name="Trigger").first.click()
            form = page.locator("[role=dialog][aria-modal=true]")

            def label(text):
                return form.locator("label", has_text=text)

            label("Email kinds").wait_for(timeout=60000)
            # Every kind chosen (the most the field ever holds), each from the field's own menu.
            kinds = form.locator(f'[id="{label("Email kinds").get_attribute("for")}"]')
            for choice in ("Reminders", "Cancellations", "Welcomes", "Stage emails"):
                kinds.click()
                page.get_by_role("option", name=choice).click()
                page.keyboard.press("Tab")
            field = label("Email kinds").locator("xpath=ancestor::*[@data-part='root'][1]")
            assert field.inner_text().count("\n") >= 4 and "Stage emails" in field.inner_text()
            box = field.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            assert field.evaluate("e => e.scrollWidth <= e.clientWidth")
            assert form.evaluate("e => e.scrollWidth <= e.clientWidth")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            assert "Course cohorts (c1): reminders, cancellations, welcomes" in field.inner_text()
            # The resend's two fields in the cohort's section: nothing she needs folds away.
            section = label("Resend one email").locator("xpath=ancestor::*[@data-part='item'][1]")
            labels = [t.split("\n")[0].strip() for t in section.locator("label").all_inner_texts()]
            assert {"Cohort", "Resend one email", "Resend reference"} <= set(labels), labels
            page.screenshot(path=str(SHOTS / "trigger-form-390px.png"), full_page=True)
            # Ticked, no reference: the form shows why, and no run is made.
            label("Resend one email").click()
            form.get_by_role("button", name="Trigger").click()
            expect(form).to_contain_text("Resend one email is ticked but Resend reference is empty", timeout=30000)
        finally:
            browser.close()
    assert manual_runs() == before
