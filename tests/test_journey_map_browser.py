"""The journey map as a browser draws it (docs/journeys/map.md): the cohort page of a journey
cohort after a real night (``journey_map_cohort``), served as Airflow's api-server serves it, in
headless Chromium, light and dark, at 1400 px and at a phone's 390 px. The map takes the page's
colours (dark nodes and light text in the dark, the reverse in the light), fits the width without
a sideways scroll, keeps its text readable (drawn at no less than 80% of its size on a phone), and
a stage opens its customers. Screenshots go to ``var/artefacts/screenshots/`` (CI keeps them)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import journey_map_cohort
import ui_client
from browser_support import ARGS, CHROMIUM, PHONE, SHOTS, need_chromium
from helpers import run_stages
from onboarding.cohorts import read_cohort_file

pytestmark = pytest.mark.browser
URL = "http://onboarding.test/onboarding/cohorts/mini-2026-11"
LUMINANCE = """(el, prop) => { const m = getComputedStyle(el)[prop].match(/\\d+(\\.\\d+)?/g).map(Number);
                               return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255; }"""


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_map_follows_light_and_dark_and_fits_a_phone(engine, tmp_path, airflow_db, monkeypatch):
    from playwright.sync_api import sync_playwright

    need_chromium()
    folder = tmp_path / "cfg"
    folder.mkdir()
    path = journey_map_cohort.write(folder, events=journey_map_cohort.EVENTS_NIGHT_2)
    run_stages(engine, read_cohort_file(path).cohorts["mini-2026-11"], tmp_path,
               dt.datetime(2026, 11, 26, 6, tzinfo=ZoneInfo("Europe/London")), run_id="n1")
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(path))
    ui, auth = ui_client.client(), ui_client.bearer(ui_client.token())

    def serve(route):  # the browser's requests answered by the api-server app, logged in
        url = route.request.url.removeprefix("http://onboarding.test")
        r = ui.get(url, headers=auth)
        route.fulfill(status=r.status_code, body=r.content, headers={"content-type": r.headers["content-type"]})

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for scheme in ("light", "dark"):
                for viewport in ({"width": 1400, "height": 1000}, PHONE):
                    page = browser.new_page(viewport=viewport, color_scheme=scheme)
                    page.route("http://onboarding.test/**", serve)
                    page.goto(URL)
                    svg = page.locator("svg.journey-map")
                    svg.wait_for()
                    assert page.locator("html").get_attribute("data-theme") == scheme
                    node = svg.locator('[data-stage="details"]')
                    fill = node.locator("rect").first.evaluate(LUMINANCE, "fill")
                    text = node.locator("text.stage-title").evaluate(LUMINANCE, "fill")
                    if scheme == "dark":
                        assert fill < 0.2 and text > 0.6, (fill, text)
                    else:
                        assert fill > 0.9 and text < 0.5, (fill, text)
                    assert svg.evaluate("e => getComputedStyle(e).backgroundColor") in ("rgba(0, 0, 0, 0)", "transparent")
                    # It fits: no sideways scroll of the page, the map inside the viewport.
                    assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
                    box = svg.bounding_box()
                    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
                    # Readable: drawn at 80% of its size or more (its 12 px text at 9.6 px or more).
                    scale = box["width"] / svg.evaluate("e => e.viewBox.baseVal.width")
                    assert scale >= 0.8, scale
                    svg.scroll_into_view_if_needed()
                    svg.screenshot(path=str(SHOTS / f"journey-map-{scheme}-{viewport['width']}.png"))
                    page.close()
            # A stage opens its customers: the list filtered to those in it.
            page = browser.new_page(viewport=PHONE, color_scheme="light")
            page.route("http://onboarding.test/**", serve)
            page.goto(URL)
            page.locator('svg.journey-map a[data-stage="details"]').click()
            page.wait_for_url("**stage=details**")
            html = page.content()
            assert "stage: Tell us about your team" in html
            assert all(e in html for e in ("bob@x.org", "cai@x.org", "dee@x.org")) and "ann@x.org" not in html
            page.close()
        finally:
            browser.close()
