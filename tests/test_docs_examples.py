"""The journey reference's worked examples (issue 25): each journey file of docs/journeys/examples/
is shown on a page as the file's own text (an MkDocs snippet, never a hand copy), passes
``journeys check``, and the simulator's output printed beside it is exactly what the command the
page shows prints now, so the page never lies about what a journey does to a customer.

On a page an example is: the journey (```yaml holding ``--8<-- "journeys/examples/<name>.yaml"``),
the customer's events (the same for ``<name>.csv``), then the command, a ``<!-- checked -->`` bash
block (tests/test_docs.py runs it in a fresh copy too), and right after it a ``text`` block with its
output."""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "journeys" / "examples"
PAGES = sorted(DOCS.rglob("*.md"))
SHOWN = re.compile(r"^<!-- checked -->\n```bash\n(?P<command>(?:(?!```).)*?journeys simulate.*?)^```\n\n"
                   r"```text\n(?P<output>.*?)^```$", re.S | re.M)
CHECKED = re.compile(r"^<!-- checked -->\n```bash\n(.*?)^```$", re.S | re.M)  # as tests/test_docs.py reads them
INCLUDED = re.compile(r'^```(?P<lang>\w+)\n--8<-- "journeys/examples/(?P<file>[^"]+)"\n```$', re.M)


def _env() -> dict[str, str]:
    """A fresh shell's environment: the default nightly run time and zone, none of this machine's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ONBOARDING_", "AIRFLOW", "GMAIL_", "GOOGLE_"))}


def _shown() -> list[tuple[str, str, str]]:
    return [(f"{p.relative_to(DOCS).as_posix()}#{i}", m["command"], m["output"])
            for p in PAGES for i, m in enumerate(SHOWN.finditer(p.read_text()), 1)]


def _example(command: str, suffix: str) -> str:
    """The example file a simulate command names for ``--journeys`` (.yaml) or ``--customer-events`` (.csv)."""
    option = "--journeys" if suffix == ".yaml" else "--customer-events"
    found = re.findall(rf"{option} docs/journeys/examples/([\w-]+){re.escape(suffix)}\b", command)
    assert len(found) == 1, (option, command)
    return found[0]


def test_every_example_is_shown_as_its_file_with_its_simulation():
    """Every example file is included by a page, and every example journey is simulated on a page
    for its own customer (``any.yaml`` with ``any.csv``)."""
    journeys = {p.stem for p in EXAMPLES.glob("*.yaml")}
    customers = {p.stem for p in EXAMPLES.glob("*.csv")}
    assert len(journeys) >= 5 and journeys == customers, (journeys, customers)
    included = {(m["lang"], m["file"]) for p in PAGES for m in INCLUDED.finditer(p.read_text())}
    assert included == {("yaml", f"{n}.yaml") for n in journeys} | {("text", f"{n}.csv") for n in customers}, included
    shown = _shown()
    simulated = [(_example(c, ".yaml"), _example(c, ".csv")) for _, c, _ in shown]
    assert sorted(simulated) == sorted((n, n) for n in journeys), simulated
    # A checked simulate command whose output block does not follow it is not silently left unchecked.
    checked = [b for p in PAGES for b in CHECKED.findall(p.read_text()) if "journeys simulate" in b]
    assert len(checked) == len(shown), (len(checked), [name for name, _, _ in shown])


@pytest.mark.parametrize("name, command, output", _shown(), ids=[name for name, _, _ in _shown()])
def test_the_page_shows_what_the_simulator_prints(name, command, output):
    """The command as the page shows it, run from the project's folder: it prints exactly the
    block below it. When a change to the engine changes a night, rerun the command and paste."""
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name}:\n{command}\n{done.stderr[-3000:]}"
    assert done.stdout == output, f"{name}: the page shows another output than the command prints now"
    assert "The journey ends: " in output  # each example is followed to its end, not cut at 60 nights


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_each_example_journey_passes_the_check(example):
    path = EXAMPLES / example
    done = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(path)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    journey = re.search(r"^journeys:\n  ([\w-]+):$", path.read_text(), re.M)[1]
    assert re.search(rf"^{journey}: .* \(\d+ stages\)$", done.stdout, re.M), done.stdout


def test_the_built_page_shows_each_files_text(tmp_path):
    """The site (built as scripts/docs.sh builds it) shows each example file's text, line for line,
    in a code block of the page that includes it: the snippet is expanded, not shown as a marker."""
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                          env={**_env(), "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for page in PAGES:
        files = [m["file"] for m in INCLUDED.finditer(page.read_text())]
        if not files:
            continue
        page_dir = page.relative_to(DOCS).with_suffix("")
        built = site / (page_dir.parent if page_dir.name == "index" else page_dir) / "index.html"
        codes = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in
                 re.findall(r"<code>(.*?)</code>", built.read_text(), re.S)]
        assert not any("--8<--" in c for c in codes), page
        for f in files:
            text = (EXAMPLES / f).read_text()
            assert any(c.strip() == text.strip() for c in codes), (page, f)



@pytest.mark.parametrize("include, builds", [
    ("journeys/examples/any.csv", True),  # the control: the copy builds with an example included
    ("../secret.txt", False), ("../mkdocs.yml", False), ("journeys/examples/../../../secret.txt", False),
    ("/etc/hostname", False), ("journeys/examples/missing.yaml", False), ("https://example.com/journey.yaml", False)])
def test_a_page_cannot_include_a_file_outside_the_docs(include, builds, tmp_path):
    """An attacker's pass on the snippets: a page that includes a file out of docs/ (a secret
    beside the project, a system file), a missing file or an address fails the strict build, and
    the file's text is nowhere in the site."""
    import shutil

    copy = tmp_path / "project"
    shutil.copytree(DOCS, copy / "docs")
    (copy / "mkdocs.yml").write_text((ROOT / "mkdocs.yml").read_text())
    (copy / "secret.txt").write_text("TOPSECRET-4711\n")
    page = copy / "docs" / "journeys" / "shapes.md"
    page.write_text(page.read_text() + f'\n```text\n--8<-- "{include}"\n```\n')
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=copy,
                          env={**_env(), "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300)
    assert (done.returncode == 0) is builds, done.stdout + done.stderr
    built = "".join(p.read_text(errors="replace") for p in site.rglob("*.html")) if site.exists() else ""
    assert "TOPSECRET-4711" not in built and "site_name: Cohort onboarding" not in built
    if builds:
        assert "cy.example@example.org,notes_integrated" in html.unescape(re.sub(r"<[^>]+>", "", built))
