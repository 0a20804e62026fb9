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
