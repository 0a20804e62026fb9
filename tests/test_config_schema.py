"""The configuration's published JSON Schemas (issue: "the configuration is typed"): generated
from the typed models and fresh, they accept the bundled samples as an editor reads them and
refuse the mistakes the models refuse, so the YAML language server flags them as they are typed."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from onboarding.ops import schema

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {"cohorts.yaml": "cohorts.schema.json", "journey-cohorts.yaml": "cohorts.schema.json",
           "journeys.yaml": "journey.schema.json"}


class AsTyped(yaml.SafeLoader):
    """YAML as an editor's language server reads it: a date is text (PyYAML makes it a date)."""


AsTyped.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / name).read_text()))


def test_the_schemas_and_the_docs_reference_are_generated_from_the_models_and_fresh():
    assert schema.main(["--check"]) == 0, "run: python -m onboarding.ops.schema"
    for path, text in schema.outputs().items():
        assert path.read_text(encoding="utf-8") == text
    cohorts = (ROOT / "docs" / "reference" / "cohort-file.md").read_text()
    journeys = (ROOT / "docs" / "journeys" / "reference.md").read_text()
    assert "| `reminder_days_before` | whole number | `3` |" in cohorts  # a cohort key, from CohortSpec
    assert "| `header_row` |" in cohorts and "| `auto_if_score_at_least` |" in journeys  # a source type's, a stage's
    assert "### CsvSpec" in cohorts and "### StageSpec" in journeys  # each model a heading the guides link to
    assert {ROOT / "docs" / "reference" / "cohort-file.md", ROOT / "docs" / "journeys" / "reference.md"} <= set(schema.outputs())


@pytest.mark.parametrize("sample", SAMPLES)
def test_each_sample_names_its_schema_and_passes_it(sample):
    text = (ROOT / "config" / sample).read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema=../schemas/{SAMPLES[sample]}"
    errors = list(_validator(SAMPLES[sample]).iter_errors(yaml.load(text, Loader=AsTyped)))  # noqa: S506
    assert not errors, [e.message for e in errors]


def _cohort_doc() -> dict:
    return yaml.load((ROOT / "config" / "cohorts.yaml").read_text(), Loader=AsTyped)  # noqa: S506


@pytest.mark.parametrize("path, value", [
    (("cohorts", 0, "reminder_day_before"), 3),  # a typo'd key
    (("cohorts", 0, "reminder_days_before"), True),  # strict: not a number
    (("cohorts", 0, "welcome_timing"), "whenever"),
    (("cohorts", 0, "grace_period"), "a while"),
    (("cohorts", 0, "id"), "Bad Id"),
    (("cohorts", 0, "sources", "signups", "type"), "ftp"),
    (("cohorts", 0, "sources", "signups", "sheet"), "Form"),  # not a csv source's key
    (("cohorts", 0, "sources", "lms"), {"path": "x.csv", "columns": {}}),  # not an export role
    (("defaults", "reminder_day_before"), 3),
    (("cohorts", 0, "title"), None),  # required (the sample's defaults do not give it)
    (("guards",), {}),  # not a top-level key
])
def test_the_cohort_schema_refuses_what_the_model_refuses(path, value):
    doc = _cohort_doc()
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert list(_validator("cohorts.schema.json").iter_errors(doc)), path


@pytest.mark.parametrize("change", [
    lambda s: s[0].update(remnders=["1d"]),
    lambda s: s[0].update(reminders=["2 days"]),
    lambda s: s[0]["due"].update(after="signupp"),
    lambda s: s[1]["next"][0].update({"if": "maybe"}),
    lambda s: s[2].update(on_missed="cancell"),
    # A team's name may approve (the model checks it is one of the journey's teams); no name is this.
    lambda s: s[3]["approval"].update(by="Sales Team!"),
    lambda s: s[3].update(owner="../etc"),
    lambda s: s[0].update(id="end"),
])
def test_the_journey_schema_refuses_what_the_model_refuses(change):
    doc = yaml.load((ROOT / "config" / "journeys.yaml").read_text(), Loader=AsTyped)  # noqa: S506
    bad = copy.deepcopy(doc)
    change(bad["journeys"]["saas-onboarding"]["stages"])
    assert not list(_validator("journey.schema.json").iter_errors(doc))
    assert list(_validator("journey.schema.json").iter_errors(bad))


@pytest.mark.parametrize("line, message", [
    ("deadline: 2026-02-30", "a value YAML reads as a date is not one (day is out of range for month)"),
    ("deadline: 2026-12-04 10:00:00", "cohort 'c1'.deadline: '2026-12-04 10:00:00' is not a date (YYYY-MM-DD); "
                                      "the time is always end of day"),
    ("reminder_days_before: 1e400", "cohort 'c1'.reminder_days_before: expected a whole number of days from 0 to 366"),
    ("retention_days: yes", "cohort 'c1'.retention_days: expected a whole number of days from 1 to 3650, not True"),
    ("grace_period: 2w", "cohort 'c1'.grace_period: '2w' is not a duration like '12h', '2d' or '30m'"),
    ("next_steps: [1, 2]", "cohort 'c1'.next_steps[0]: input should be a valid string, not 1"),
    ("guards: {max_source_age: [1d]}", "cohort 'c1'.guards.max_source_age: ['1d'] is not a duration"),
    ("title: {a: {b: {c: [[[x]]]}}}", "cohort 'c1'.title: expected one line of at most 200 characters"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_file_cohort_and_key(tmp_path, line, message):
    """Strict types: what YAML makes of a value (a date, a datetime, a float, a bool, a mapping) is
    refused where the key wants another, with the file, the cohort and the key."""
    from helpers import minimal
    from onboarding.cohorts import load_cohorts
    from onboarding.errors import ConfigError

    cohort = {k: v for k, v in minimal().items() if k != line.split(":")[0]}
    text = yaml.safe_dump({"cohorts": [cohort]}).replace("cohorts:\n- ", f"cohorts:\n- {line}\n  ", 1)
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_cohorts(tmp_path / "c.yaml")
    assert str(err.value).startswith(f"{tmp_path / 'c.yaml'}: ") and message in str(err.value)
