"""A run's GX Data Docs as the instructor opens them, in headless Chromium with no network: the
pages' scripts run without an error (Bootstrap's ``.modal`` exists), Font Awesome's icons are
drawn from the site's own webfonts (not empty boxes), a failing row shows its value, and the link
back leads to the cohort's Onboarding page where the plugin serves the site.

Needs Debian's Chromium (``scripts/install-chromium.sh``) and the fetched Data Docs assets:
skipped where either is missing, except in CI, where it fails.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urljoin

import pytest

from onboarding.validation import docs_assets

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--proxy-server=http://127.0.0.1:9"]  # no network: a page loading from a CDN would fail
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists() or docs_assets.missing():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium ({CHROMIUM}) or the Data Docs assets missing (CI must have them)")
        pytest.skip("no Chromium (scripts/install-chromium.sh) or Data Docs assets (scripts/setup.sh)")
    from onboarding.cohorts import SourceConfig
    from onboarding.sources import make_source
    from onboarding.validation.gx import Validator

    folder = tmp_path_factory.mktemp("docs")
    (folder / "signups.csv").write_text("Email,Name,When\nok@x.org,Ann Lee,2026-11-01T10:00\n"
                                        "ann.lee@@x.org,Ann Lee,2026-11-01T10:00\nbo@x.org,Bo,2026-02-30\n")
    cfg = SourceConfig("signups", "csv", {"email": "Email", "name": "Name", "signed_up_at": "When"},
                       {"path": str(folder / "signups.csv")})
    src = make_source(cfg)
    snap = src.snapshot(folder / "run" / "inputs")
    v = Validator("night-1", cohort="c1")
    v.validate(src.read(snap), cfg, snap, "UTC", folder / "run" / "validation")
    index = v.build_data_docs(folder / "run" / "validation" / "data_docs")
    copy = folder / "copied" / "data_docs"
    shutil.copytree(index.parent, copy)  # a run folder copied to another machine
    return copy


def test_pages_run_their_scripts_and_draw_their_icons_offline(site):
    from playwright.sync_api import sync_playwright

    page_file = next(p for p in site.rglob("*.html") if "validations" in p.parts and "signups-rows" in str(p))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            errors, failed = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto((site / "index.html").as_uri())  # the index runs the same scripts
            page.wait_for_load_state("load")
            assert errors == [] and failed == [], (errors, failed)
            assert page.locator("a.onboarding-back").count() == 1
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            page.evaluate("document.fonts.ready")
            assert errors == [] and failed == [], (errors, failed)
            assert page.evaluate("typeof jQuery.fn.modal") == "function"
            # The status icons (a red cross for a failed check) are Font Awesome glyphs: drawn from
            # the site's webfont, they are the font's, not the fallback's empty box.
            icon = page.locator("i.fas").first
            assert icon.count() == 1
            assert "Font Awesome" in icon.evaluate("e => getComputedStyle(e).fontFamily")
            assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
            assert page.evaluate("[...document.fonts].some(f => f.family.includes('Font Awesome') "
                                 "&& f.status === 'loaded')")
            text = page.inner_text("body")
            assert "Data asset: signups.csv of cohort c1" in text
            assert "impossible" in text or "2026-02-30" in text  # the failing value beside its row
            assert "ann.lee" not in text and "Ann Lee" not in text  # a customer's address or name: never
            back = page.locator("a.onboarding-back")
            assert back.inner_text().endswith("Onboarding page of cohort c1")
            served = f"http://airflow.example/onboarding/cohorts/c1/runs/night-1/docs/{page_file.relative_to(site).as_posix()}"
            assert urljoin(served, back.get_attribute("href")) == "http://airflow.example/onboarding/cohorts/c1"
        finally:
            browser.close()
