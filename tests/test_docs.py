"""The documentation (issue 27): the site in docs/ builds offline with no warning, the README stays a
short front page from which a newcomer reaches the four things people ask most within two clicks,
every image a page shows is committed, and every command a page marks as checked runs.

A checked command is a fenced ``bash`` block whose previous line is ``<!-- checked -->`` (see
docs/architecture.md, "How this documentation is built"): it runs under ``bash -e`` in a fresh copy
of the project (its own var/, so its own state database), and must exit 0."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
CHECKED = re.compile(r"^<!-- checked -->\n```bash\n(.*?)^```$", re.S | re.M)


def _env() -> dict[str, str]:
    """The environment of a fresh shell: none of this machine's project or Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONBOARDING_", "AIRFLOW", "GMAIL_", "GOOGLE_"))}
    return {**env, "NO_MKDOCS_2_WARNING": "1"}


def test_the_site_builds_strictly_offline_with_no_warning(tmp_path):
    """What scripts/docs.sh does, into a temporary folder: any warning (a broken link or anchor, a
    page left out of the navigation, an absolute link) fails the build."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False  # Material's default loads Google fonts at view time
    assert config["plugins"] == ["search"]  # built in, runs in the browser: nothing fetched
    assert {config["validation"][k] for k in ("omitted_files", "not_found", "anchors", "unrecognized_links")} == {"warn"}
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stderr
    built = [p.relative_to(site).as_posix() for p in site.rglob("index.html")]
    for page in ("instructor/index.html", "journeys/index.html", "journeys/reference/index.html",
                 "reference/cohort-file/index.html", "data-team/index.html", "operations/index.html",
                 "privacy/index.html", "architecture/index.html", "benchmarks/index.html"):
        assert page in built, built
    html = "".join(p.read_text(errors="replace") for p in site.rglob("*.html"))
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    assert (site / "images" / "onboarding-cohort.png").exists()


def test_the_readme_is_a_short_front_page_with_the_two_commands():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 250, len(readme)
    text = "\n".join(readme)
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text
    # The quick start's figures, as the demo prints them (the slow test below runs the demo and compares).
    assert "559 emails in var/outbox: cancellation 142, reminder 172, summary 20, welcome 225" in text
    assert re.search(r"^542 journey emails in var/outbox: ", text, re.M)
    assert "![" in text and "docs/images/onboarding-cohort.png" in text


def _headings(page: Path) -> dict[str, str]:
    """A page's headings by their anchor (as MkDocs' toc makes them), outside code blocks."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    found = {}
    for line in text.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if m:
            found[slugify(m[2].replace("`", ""), "-")] = m[2]
    return found


def _links(page: Path) -> list[tuple[Path, str]]:
    """The pages a page links to (relative .md links), with the anchor."""
    out = []
    for bang, _, target in LINK.findall(page.read_text()):
        if bang or "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if dest.suffix == ".md":
            out.append((dest, anchor))
    return out


def test_every_link_of_the_readme_lands_on_a_page_and_heading():
    """The site's strict build checks the docs' links; the README is outside the site, so here."""
    for dest, anchor in _links(ROOT / "README.md"):
        assert dest.exists(), dest
        if anchor:
            assert anchor in _headings(dest), (dest.relative_to(ROOT), anchor)


@pytest.mark.parametrize("page, heading", [
    ("docs/instructor.md", "Release a hold"),
    ("docs/journeys/index.md", "A stage with an approval"),
    ("docs/architecture.md", "How to add a source type"),
    ("docs/privacy.md", "What an erasure removes"),
])
def test_a_newcomer_reaches_it_from_the_readme_in_two_clicks(page, heading):
    """Following links from the README (one click: a page it links to; two: a page that one links
    to), the page holding the heading is reached and the heading is on it."""
    target = (ROOT / page).resolve()
    reached = {dest for dest, _ in _links(ROOT / "README.md")}
    if target not in reached:
        reached |= {dest for first in reached if first.exists() for dest, _ in _links(first)}
    assert target in reached, f"{page} is not within two clicks of the README"
    assert heading in _headings(target).values(), (page, heading)


def test_every_image_a_page_shows_is_committed():
    """Screenshots live in docs/images/ so that a fresh clone builds the site without running a
    browser; git tracks each one."""
    tracked = set(subprocess.run(["git", "ls-files", "docs", "README.md"], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout.split())
    shown = 0
    for page in [*PAGES, ROOT / "README.md"]:
        for bang, _, target in LINK.findall(page.read_text()):
            if bang:
                image = (page.parent / target).resolve()
                assert image.exists(), (page, target)
                assert image.relative_to(ROOT).as_posix() in tracked, image
                shown += 1
    assert shown >= 7  # the README's, the home page's and the instructor's guide's five


def _checked() -> list[tuple[str, str]]:
    return [(f"{p.relative_to(DOCS).as_posix()}#{i}", block)
            for p in PAGES for i, block in enumerate(CHECKED.findall(p.read_text()), 1)]


def test_the_checked_commands_are_found():
    """The marker is read as the pages write it: a page that marks a block is not silently skipped."""
    marked = sum(line == "<!-- checked -->" for p in PAGES for line in p.read_text().splitlines())
    assert marked == len(_checked()) >= 5, (marked, [name for name, _ in _checked()])


@pytest.fixture
def fresh_copy(tmp_path) -> Path:
    """The project as a fresh clone has it (no var/: no state database, outbox or run folders),
    sharing this checkout's .venv."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "var", "__pycache__", ".pytest_cache"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    return copy


@pytest.mark.parametrize("name, block", _checked(), ids=[name for name, _ in _checked()])
def test_a_checked_command_runs_on_a_fresh_state(name, block, fresh_copy):
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=fresh_copy, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{block}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_every_sql_example_runs_on_a_freshly_migrated_state_database(tmp_path):
    """The data team's example queries name tables, views and columns the schema has (SQLite: the
    embedded default; the views are the same on PostgreSQL)."""
    import sqlite3

    blocks = [(p.relative_to(DOCS).as_posix(), b) for p in PAGES
              for b in re.findall(r"^```sql\n(.*?)^```$", p.read_text(), re.S | re.M)]
    assert len(blocks) >= 5, blocks
    db = tmp_path / "state.db"
    subprocess.run([sys.executable, "-m", "onboarding.ops.statedb", "migrate", "--url", f"sqlite:///{db}"],
                   cwd=ROOT, env=_env(), check=True, capture_output=True, timeout=300)
    conn = sqlite3.connect(db)
    for page, block in blocks:
        for statement in filter(str.strip, block.split(";")):
            try:
                conn.execute(statement).fetchall()
            except sqlite3.Error as e:
                pytest.fail(f"{page}: {e}\n{statement}")


@pytest.mark.slow
def test_the_quick_start_shows_what_the_demo_prints(fresh_copy):
    """The README's quick start, run as a newcomer runs it (``bash scripts/demo.sh`` in a fresh
    copy): the two totals it shows are the lines the demo prints, and the nights it quotes are there."""
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=fresh_copy, env=_env(), capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = done.stdout.splitlines()
    readme = (ROOT / "README.md").read_text()
    totals = [line for line in printed if re.match(r"^\d+ (journey )?emails in var/outbox: ", line)]
    assert len(totals) == 2, done.stdout[-3000:]
    for line in totals:
        assert f"\n{line}\n" in readme, f"the demo printed {line!r}; the README's quick start says otherwise"
    for quoted in ("=== Sat 05 Dec 2026 nightly run (success) ===",
                   "=== Sun 06 Dec 2026 nightly run (success, a rerun of the same date) ===",
                   "=== Sat 28 Nov 2026 journey run (success) ===",
                   "data-eng-2026-12: completed_late 3, held 1, missed 115, on_time 189; cancellations sent 118; "
                   "welcomes sent 189; quarantined rows 9, orphans 4",
                   "skipped 307 email(s) already sent on an earlier night"):
        assert quoted in {line.strip() for line in printed}, quoted
        assert quoted in readme, quoted
