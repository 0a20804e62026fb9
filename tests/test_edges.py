"""Loose ends of issue 21 (points 10 and 11): a hostile journeys file, the Onboarding page's
edges (its API docs, Data Docs names, addresses with a slash), non-finite numbers in a journey,
the trigger form's cohort list."""
from __future__ import annotations

import pytest
import yaml

import ui_client
from helpers import minimal
from onboarding.cohorts import read_cohort_file

# ~40 KB each: flow-style and block-style nesting 20,000 levels deep.
DEEP = {"flow": "journeys: " + "[" * 20000 + "]" * 20000 + "\n",
        "block": "journeys:\n  x:\n    " + "- " * 20000 + "a\n"}


def cohort_file(folder, journeys_text: str):
    (folder / "journeys.yaml").write_text(journeys_text)
    path = folder / "cohorts.yaml"
    path.write_text(yaml.safe_dump({"journeys": "journeys.yaml", "cohorts": [
        minimal(id="plain"), minimal(id="journeyed", journey="saas-onboarding")]}))
    return path


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_a_deeply_nested_journeys_file_fails_only_the_cohorts_using_it(tmp_path, shape):
    found = read_cohort_file(cohort_file(tmp_path, DEEP[shape]))
    assert list(found.cohorts) == ["plain"]  # the cohort without a journey runs
    (why,) = found.broken.values()
    assert list(found.broken) == ["journeyed"]
    assert f"{tmp_path / 'journeys.yaml'}: nested deeper than 64 levels" in why


@pytest.fixture
def ui(airflow_db, engine, monkeypatch, tmp_path):
    import analytics_cohort

    analytics_cohort.write(engine)
    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(tmp_path / "no-such-cohorts.yaml"))
    return ui_client.client()


def test_the_onboarding_pages_read_beside_a_deeply_nested_journeys_file(ui, tmp_path, monkeypatch):
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cohort_file(tmp_path, DEEP["flow"])))
    h = ui_client.bearer(ui_client.token())
    for route in ("/onboarding/", "/onboarding/api/cohorts", "/onboarding/cohorts/c1", "/onboarding/api/cohorts/c1"):
        assert ui.get(route, headers=h).status_code == 200, route


def test_the_api_schema_needs_a_login_and_no_page_loads_a_script_from_elsewhere(ui):
    h = ui_client.bearer(ui_client.token(role="viewer"))
    assert ui.get("/onboarding/api/openapi.json").status_code == 401
    schema = ui.get("/onboarding/api/openapi.json", headers=h)
    assert schema.status_code == 200 and "/api/cohorts" in schema.json()["paths"]
    for route in ("/onboarding/api/docs", "/onboarding/docs", "/onboarding/redoc", "/onboarding/openapi.json"):
        for headers in ({}, h):
            r = ui.get(route, headers=headers)
            assert r.status_code in (401, 404) and "cdn" not in r.text.lower(), (route, r.status_code)


def test_data_docs_names_that_cannot_be_files_answer_404_or_400(ui, engine, tmp_path):
    site = tmp_path / "runs" / "c1" / "r1" / "validation" / "data_docs"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<html>docs of r1</html>")
    ui_client.record_data_docs(engine, site / "index.html")
    h = ui_client.bearer(ui_client.token())
    base = "/onboarding/cohorts/c1/runs/r1/docs"
    assert ui.get(f"{base}/index.html", headers=h).status_code == 200
    for name in ("index%00.html", "a" * 300 + ".html", "static/" + "b" * 300, "x" * 5000, "%0Aindex.html"):
        r = ui.get(f"{base}/{name}", headers=h)
        assert r.status_code in (400, 404), (name[:20], r.status_code)
    for bad in ("/onboarding/cohorts/c%001/runs/r1/docs/index.html", "/onboarding/cohorts/c1/runs/r%001/docs/index.html",
                f"/onboarding/cohorts/{'c' * 300}/runs/r1/docs/index.html"):
        assert ui.get(bad, headers=h).status_code in (400, 404), bad[:40]


def test_a_customer_whose_address_contains_a_slash_has_a_link_that_works(ui, engine):
    import html
    import re

    import sqlalchemy as sa

    odd = "e/f@x.org"
    with engine.begin() as conn:
        for table in sa.inspect(engine).get_table_names():
            for col in ("email", "recipient"):
                if col in {c["name"] for c in sa.inspect(engine).get_columns(table)}:
                    conn.execute(sa.text(f"UPDATE {table} SET {col} = :odd WHERE {col} = 'e@x.org'"), {"odd": odd})  # noqa: S608
    h = ui_client.bearer(ui_client.token())
    page = ui.get("/onboarding/cohorts/c1", headers=h).text
    (link,) = [html.unescape(u) for u in re.findall(r'href="([^"]*/customers/[^"]*)"', page) if "e%2Ff" in u]
    r = ui.get(link, headers=h)
    assert r.status_code == 200 and odd in html.unescape(r.text)
    api = ui.get("/onboarding/api/cohorts/c1/customers/e%2Ff@x.org", headers=h)
    assert api.status_code == 200 and odd in api.text


@pytest.mark.parametrize("where,value", [("pass_mark: 70", "pass_mark: .nan"), ("pass_mark: 70", "pass_mark: .inf"),
                                         ("auto_if_score_at_least: 85", "auto_if_score_at_least: .nan"),
                                         ("auto_if_score_at_least: 85", "auto_if_score_at_least: -.inf")])
def test_the_journey_check_refuses_a_score_that_is_not_a_number(tmp_path, capsys, where, value):
    from pathlib import Path

    from onboarding.ops.journeys import main

    text = (Path(__file__).resolve().parents[1] / "config" / "journeys.yaml").read_text()
    assert where in text
    bad = tmp_path / "journeys.yaml"
    bad.write_text(text.replace(where, value, 1))
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and ("expected {pass_mark: <number>}" in err or "expected a number" in err), err


def test_the_cohort_param_takes_what_the_guide_says_and_refuses_a_list():
    """The trigger form's (and the REST API's) cohort is `all` or one cohort of the file, as the
    instructor's guide's table of the form says; a comma-separated list is refused when the run is
    asked for."""
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.param import ParamValidationError

    root = Path(__file__).resolve().parents[1]
    param = DagBag(dag_folder=str(root / "dags")).dags["onboarding_nightly"].params.get_param("cohort")
    assert param.resolve("all") == "all" and param.resolve("ux-2026-12") == "ux-2026-12"
    with pytest.raises(ParamValidationError):
        param.resolve("data-eng-2026-12,ux-2026-12")
    (row,) = [line for line in (root / "docs" / "instructor.md").read_text().splitlines() if line.startswith("| `cohort` |")]
    assert "one cohort per run" in row and "comma-separated list is refused" in row
