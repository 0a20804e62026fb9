"""The journey as a live map and the effect of a change (docs/journeys/map.md): the SVG drawn from a
journey file (the sample's and one of another shape), checked by parsing it; hostile titles;
owners as lanes; ``journeys check --draw``; a journey's version (hash and label); and a version
changed between two real nightly runs of one cohort, shown on the page as two groups with their
counts, with the map, through Airflow's api-server."""
from __future__ import annotations

import datetime as dt
import re
from html import escape as html_escape
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import journey_map_cohort
from helpers import run_stages
from onboarding.cohorts import read_cohort_file
from onboarding.journeys import END, Journey, Stage, journeys_from
from onboarding.reporting import journey_map
from onboarding.reporting.journey_map import StageFigures, draw, stage_figures

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
LON = ZoneInfo("Europe/London")


def _journey(text: str, jid: str) -> Journey:
    return journeys_from(yaml.safe_load(text), Path("journeys.yaml"))[jid]


def _sample() -> Journey:
    return _journey((ROOT / "config" / "journeys.yaml").read_text(), "saas-onboarding")


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {e.get("data-stage"): e for e in root.iter() if e.get("class") == "stage"}


def _edges(root: ET.Element) -> set[tuple[str, str, str]]:
    return {(e.get("data-from"), e.get("data-to"), e.get("data-if")) for e in root.iter(f"{SVG}path")
            if "edge" in (e.get("class") or "").split()}


def _texts(node: ET.Element) -> dict[str, str]:
    return {t.get("class"): "".join(t.itertext()) for t in node.iter(f"{SVG}text")}


def _check_shape(journey: Journey, root: ET.Element, figures: dict[str, StageFigures]) -> None:
    """Every stage a node with its figures, every way on an edge, every group its box."""
    nodes = _nodes(root)
    assert set(nodes) == {s.id for s in journey.stages if not s.members}
    for s in journey.stages:
        if s.members:
            continue
        f, n = figures.get(s.id, StageFigures()), nodes[s.id]
        assert (int(n.get("data-in-stage")), int(n.get("data-overdue")), int(n.get("data-waiting"))) == \
            (f.in_stage, f.overdue, f.waiting), s.id
        t = _texts(n)
        assert t["stage-title"].rstrip("…") in s.title and t["in-stage"] == f"{f.in_stage} in stage"
        assert t["overdue"] == f"{f.overdue} overdue" and t["waiting"].startswith(f"{f.waiting} waiting")
        assert t["median"] == ("no median yet" if f.median_hours is None else
                               f"median {f.median_hours / 24:.1f} d" + (" in stage" if "in stage" in t["median"] else ""))
        assert n.get("data-optional") == str(s.optional).lower()
    assert _edges(root) == {(s.id, b.to, b.condition or "") for s in journey.stages for b in s.next}
    groups = {g.get("data-stage") for g in root.iter() if g.get("class") == "together"}
    assert groups == {s.id for s in journey.stages if s.members}
    assert len([e for e in root.iter() if e.get("class") == "end"]) == 1


def test_the_sample_journey_is_drawn_stage_by_stage_with_tonights_figures():
    journey = _sample()
    figures = {"details": StageFigures(in_stage=12, overdue=3, waiting=5, median_hours=50.4),
               "profile": StageFigures(in_stage=4, median_hours=30.0), "integrations": StageFigures(2, 1, 0)}
    svg = draw(journey, figures, link=lambda sid: f"?stage={sid}#customers")
    root = ET.fromstring(svg)
    _check_shape(journey, root, figures)
    nodes = _nodes(root)
    # A stage links to its customers (the page's stage filter); a node is an <a>.
    assert nodes["details"].tag == f"{SVG}a" and nodes["details"].get("href") == "?stage=details#customers"
    # The second tries are drawn as such; approved leads straight down to the CSM stage.
    retries = {(e.get("data-from"), e.get("data-to")) for e in root.iter(f"{SVG}path")
               if "retry" in (e.get("class") or "")}
    assert retries == {("details", "details"), ("initial_training", "initial_training"),
                       ("advanced_training", "advanced_training")}
    assert ("details", "csm", "approved") in _edges(root) and ("advanced_training", END, "approved") in _edges(root)
    labels = [("".join(t.itertext())) for t in root.iter(f"{SVG}text") if t.get("class") == "edge-label"]
    assert labels.count("rejected") == 3 and labels.count("approved") == 3
    # Side by side: the members of 'setup' share one row, in their group's box.
    ys = {sid: float(nodes[sid].find(f"{SVG}rect").get("y")) for sid in ("profile", "integrations", "csm")}
    assert ys["profile"] == ys["integrations"] > ys["csm"]
    # The optional stage is dashed and says so.
    assert nodes["exploration"].find(f"{SVG}rect").get("stroke-dasharray") and "optional" in \
        _texts(nodes["exploration"])["tags"]
    # The sample's owners are its lanes, in order of first appearance, each titled as people read it.
    lanes = [g for g in root.iter() if g.get("class") == "lane"]
    assert [g.get("data-lane") for g in lanes] == ["support", "instructor", "success"]
    assert ["".join(g.find(f"{SVG}text").itertext()) for g in lanes] == ["Support", "the instructor", "Customer success"]
    assert nodes["details"].get("data-lane") == "instructor" and nodes["initial_training"].get("data-lane") == "success"
    # Each handoff (one owner's stage to another's) is marked on its edge and named on hover.
    handed = {(e.get("data-from"), e.get("data-to")): "".join(e.find(f"{SVG}title").itertext())
              for e in root.iter(f"{SVG}path") if "handoff" in (e.get("class") or "").split()}
    assert set(handed) == {(h.from_stage, h.to_stage) for h in journey.handoffs()} and len(handed) >= 3, handed
    assert handed[("verification", "details")] == "Handed from Support to the instructor"
    assert not [e for e in root.iter(f"{SVG}path") if "handoff" not in (e.get("class") or "").split()
                and e.find(f"{SVG}title") is not None]
    # Themed for the page: the page's colour variables, so it follows Airflow's dark/light setting.
    assert "var(--fg" in svg and "var(--soft" in svg
    static = draw(journey, figures, themed=False)
    assert "var(" not in static and "#ffffff" in static


def test_a_journey_of_another_shape_branches_tries_again_and_jumps_to_the_end():
    journey = _journey(journey_map_cohort.OTHER, "branching")
    figures = {"exam": StageFigures(7, 2, 0, 12.0), "contract": StageFigures(3, 0, 3, None)}
    root = ET.fromstring(draw(journey, figures, themed=False))
    _check_shape(journey, root, figures)
    edges = _edges(root)
    assert {("apply", "exam", "approved"), ("apply", END, "rejected"), ("exam", "paperwork", "passed"),
            ("exam", "exam", "failed"), ("contract", "contract", "rejected"), ("paperwork", "webinar", ""),
            ("webinar", "listing", ""), ("listing", "webinar", "rejected"), ("listing", END, "approved")} <= edges
    back = {(e.get("data-from"), e.get("data-to")) for e in root.iter(f"{SVG}path")
            if "retry" in (e.get("class") or "")}
    assert back == {("exam", "exam"), ("contract", "contract"), ("listing", "webinar")}
    nodes = _nodes(root)
    assert nodes["contract"].tag == f"{SVG}g"  # no link without a page
    assert _texts(nodes["contract"])["waiting"] == "3 waiting"  # a narrow member says it shorter


def test_owners_are_lanes_and_a_stage_without_one_is_in_the_customers_own():
    base = _journey(journey_map_cohort.OTHER, "branching")
    owners = {"apply": "Sales", "exam": "Training", "contract": "Legal", "tax": "Finance", "listing": "Sales"}
    stages = tuple(replace(s, owner=owners.get(s.id)) for s in base.stages)
    journey = Journey(base.id, base.title, stages)
    root = ET.fromstring(draw(journey, themed=False))
    lanes = [g.get("data-lane") for g in root.iter() if g.get("class") == "lane"]
    assert lanes == ["Sales", "Training", journey_map.UNASSIGNED, "Legal", "Finance"]
    lane_x = {g.get("data-lane"): float(g.find(f"{SVG}rect").get("x")) for g in root.iter() if g.get("class") == "lane"}
    nodes = _nodes(root)
    for s in journey.stages:
        if s.members:
            continue
        x = float(nodes[s.id].find(f"{SVG}rect").get("x"))
        lane = owners.get(s.id, journey_map.UNASSIGNED)
        assert nodes[s.id].get("data-lane") == lane and lane_x[lane] <= x < lane_x[lane] + journey_map.LANE_W, s.id


HOSTILE = ['<script>alert(1)</script>', 'Tom & "Jerry" \'s <b>bold</b>', '=HYPERLINK("http://x")',
           '../../etc/passwd', '=?utf-8?q?=3Cscript=3E?=', "A]]><!-- x -->"]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_are_text_in_the_drawing(title):
    doc = yaml.safe_load(journey_map_cohort.OTHER)
    doc["journeys"]["branching"]["title"] = title
    doc["journeys"]["branching"]["stages"][1]["title"] = title
    doc["journeys"]["branching"]["stages"][2]["together"][0]["title"] = title
    journey = journeys_from(doc, Path("journeys.yaml"))["branching"]
    svg = draw(journey, link=lambda sid: f"?stage={sid}")
    root = ET.fromstring(svg)  # still one well-formed document
    assert "<script" not in svg and "<b>" not in svg and "<!--" not in svg
    assert not list(root.iter(f"{SVG}script"))
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert any(t.startswith(title) for t in titles) and sum(title in t for t in titles) >= 3


def test_stage_figures_come_from_the_pages_own_rows():
    rows = [{"stage": "details", "entered": 20, "median_hours": 36.0}, {"stage": "csm", "entered": 5, "median_hours": None}]
    standings = [{"status": "details: in_stage", "n": 4}, {"status": "details: overdue", "n": 3},
                 {"status": "details: awaiting_approval", "n": 2}, {"status": "csm: waiting_for_csm", "n": 5},
                 {"status": "done", "n": 9}, {"status": "cancelled", "n": 1}]
    f = stage_figures(rows, standings)
    assert f["details"] == StageFigures(in_stage=9, overdue=3, waiting=2, median_hours=36.0, entered=20)
    assert f["csm"] == StageFigures(in_stage=5, overdue=0, waiting=5, median_hours=None, entered=5)
    assert set(f) == {"details", "csm"}


def test_check_draws_the_map_to_a_file(tmp_path, capsys):
    from onboarding.ops.journeys import main

    out = tmp_path / "journey.svg"
    assert main(["check", str(ROOT / "config" / "journeys.yaml"), "--draw", str(out)]) == 0
    _check_shape(_sample(), ET.fromstring(out.read_text()), {})
    assert f"to {out}" in capsys.readouterr().out
    # A file of two journeys: one file each, named by the journey.
    two = yaml.safe_load(journey_map_cohort.OTHER)
    two["journeys"]["mini"] = yaml.safe_load(journey_map_cohort.JOURNEY.format(version="v", days=7))["journeys"]["mini"]
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(two))
    assert main(["check", str(tmp_path / "two.yaml"), "--draw", str(tmp_path / "map.svg")]) == 0
    assert sorted(p.name for p in tmp_path.glob("map-*.svg")) == ["map-branching.svg", "map-mini.svg"]
    assert not (tmp_path / "map.svg").exists()
    # A file that does not check draws nothing.
    (tmp_path / "bad.yaml").write_text("journeys: {x: {stages: []}}")
    assert main(["check", str(tmp_path / "bad.yaml"), "--draw", str(tmp_path / "bad.svg")]) == 2
    assert not (tmp_path / "bad.svg").exists()


def test_a_journeys_version_is_its_definition_not_its_spacing():
    text = journey_map_cohort.JOURNEY.format(version="2026-11 v1", days=7)
    one = _journey(text, "mini")
    assert one.version == "2026-11 v1" and len(one.digest) == 64
    # Spacing, comments, flow style and key order change nothing; nor does the label alone.
    doc = yaml.safe_load(text)
    stage = doc["journeys"]["mini"]["stages"][0]
    doc["journeys"]["mini"]["stages"][0] = dict(reversed(list(stage.items())))
    respaced = "# a comment\n" + yaml.safe_dump(doc, default_flow_style=False, indent=4)
    assert _journey(respaced, "mini").digest == one.digest
    assert _journey(text.replace("2026-11 v1", "relabelled"), "mini").digest == one.digest
    # A changed due time is another version; without a label, it is named by its short hash.
    two = _journey(text.replace("duration: 7d", "duration: 10d").replace('    version: "2026-11 v1"\n', ""), "mini")
    assert two.digest != one.digest and two.version == two.digest[:8]


def _night(engine, tmp_path, cohort_file: Path, when: dt.datetime, run_id: str):
    cohort = read_cohort_file(cohort_file).cohorts["mini-2026-11"]
    run_stages(engine, cohort, tmp_path, when, run_id=run_id)
    return cohort


def test_a_version_changed_mid_cohort_shows_as_two_groups_on_the_page(engine, tmp_path, airflow_db, monkeypatch):
    import ui_client
    from onboarding.reporting.page import PageReads
    from onboarding.store import Store

    folder = tmp_path / "cfg"
    folder.mkdir()
    path = journey_map_cohort.write(folder)
    first = _night(engine, tmp_path, path, dt.datetime(2026, 11, 23, 6, tzinfo=LON), "n1")
    v2 = "<i>2026-11 v2</i> & =1+1"  # a hostile label: text wherever it is shown
    journey_map_cohort.write(folder, version=v2, days=10, events=journey_map_cohort.EVENTS_NIGHT_2)
    second = _night(engine, tmp_path, path, dt.datetime(2026, 11, 26, 6, tzinfo=LON), "n2")
    store = Store(engine)
    # Each run recorded the version it walked.
    runs = {r: store.runs.get(r, "mini-2026-11") for r in ("n1", "n2")}
    assert (runs["n1"]["journey_version"], runs["n1"]["journey_digest"]) == ("2026-11 v1", first.journey_spec.digest)
    assert (runs["n2"]["journey_version"], runs["n2"]["journey_digest"]) == (v2, second.journey_spec.digest)
    assert first.journey_spec.digest != second.journey_spec.digest

    page = PageReads(store, read_cohort_file(path)).cohort("mini-2026-11")
    groups = {g["version"]: g for g in page["versions"]["groups"]}
    assert list(groups) == ["2026-11 v1", v2] and page["versions"]["changed"]
    by = {(v, s["stage"]): (s["entered"], s["completed"], s["dropped"], s["still_open"])
          for v, g in groups.items() for s in g["stages"]}
    # Everyone entered verification on the 20th (v1); Ann and Bob entered details before night 1
    # (v1, Ann has done it), Cai and Dee after it (v2).
    assert by == {("2026-11 v1", "verification"): (4, 4, 0, 0), ("2026-11 v1", "details"): (2, 1, 0, 1),
                  (v2, "details"): (2, 0, 0, 2)}
    assert all(g["few"] for g in groups.values())  # 5 and 0 completions: fewer than 30
    # The map: tonight's figures per stage.
    nodes = _nodes(ET.fromstring(str(page["map"])))
    assert (nodes["details"].get("data-in-stage"), nodes["verification"].get("data-in-stage")) == ("3", "0")

    # The instructor's summary of night 2 shows the same map, as a PNG image in the email.
    import email
    from email import policy

    maps = []
    for eml in sorted((tmp_path / "outbox").rglob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        maps += [(msg, part) for part in msg.walk() if part.get("Content-ID") == "<map@onboarding>"]
    assert len(maps) == 2  # one summary a night
    msg, part = maps[-1]
    png = part.get_content()
    assert part.get_content_type() == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == 2 * int(ET.fromstring(draw(second.journey_spec)).get("width"))  # drawn at 2x, for phones
    assert 'src="cid:map@onboarding"' in msg.get_body(("html",)).get_content()

    # The page as a browser gets it through Airflow's api-server.
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(path))
    ui = ui_client.client()
    html = ui.get("/onboarding/cohorts/mini-2026-11", headers=ui_client.bearer(ui_client.token())).text
    svg = re.search(r"<svg[^>]*class=\"journey-map\".*?</svg>", html, re.S).group(0)
    nodes = _nodes(ET.fromstring(svg))
    assert nodes["details"].get("href") == "?stage=details#customers"
    assert "3 in stage" in _texts(nodes["details"])["in-stage"]
    tables = re.findall(r'<table class="versions" data-version="([^"]+)">(.*?)</table>', html, re.S)
    assert [v for v, _ in tables] == ["2026-11 v1", html_escape(v2)]
    assert "<i>2026-11" not in html
    assert all("few people, not a reliable figure" in body for _, body in tables)
    assert "in 2 groups" in html
    # The link the map gives lists the customers in the stage.
    listed = ui.get("/onboarding/cohorts/mini-2026-11?stage=details", headers=ui_client.bearer(ui_client.token())).text
    assert "bob@x.org" in listed and "cai@x.org" in listed and "dee@x.org" in listed and "ann@x.org" not in listed
