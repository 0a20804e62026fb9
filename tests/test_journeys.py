"""Journey definitions (issue 13, first part): the 19-step sample reads as written, the seed
journey is the original process, and every mistake in a journey file is refused with the file,
the journey, the stage and the key."""
from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from helpers import replaced
from onboarding.cohorts import read_cohort_file, read_yaml
from onboarding.errors import ConfigError
from onboarding.journeys import SEED, journeys_from

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "config" / "journeys.yaml"


def _sample() -> dict:
    return read_yaml(SAMPLE)


def _load(doc: dict, tmp_path: Path) -> dict:
    path = tmp_path / "journeys.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return journeys_from(read_yaml(path), path)


def test_the_sample_journey_reads_as_the_19_steps():
    journeys = journeys_from(_sample(), SAMPLE)
    assert set(journeys) == {"seed", "saas-onboarding"}
    j = journeys["saas-onboarding"]
    assert [s.id for s in j.stages] == ["verification", "details", "csm", "initial_training", "setup", "profile",
                                        "integrations", "exploration", "advanced_training"]
    # Steps 12 and 13 side by side (issue 25), step 13 any of five tools, step 14 optional.
    assert j.stage("setup").members == ("profile", "integrations") and j.following("setup") == {None: "exploration"}
    assert j.stage("integrations").evidence.need == "any" and len(j.stage("integrations").evidence.parts) == 5
    assert j.stage("exploration").optional
    details = j.stage("details")
    assert details.approval_by == "instructor" and j.following("details") == {"approved": "csm", "rejected": "details"}
    assert details.on_missed == "escalate:instructor" and details.reminders == (dt.timedelta(days=3), dt.timedelta(days=1))
    training = j.stage("initial_training")
    assert training.evidence.event == "initial_quiz_completed" and training.evidence.pass_mark == 70
    assert training.approval_by == "csm" and training.auto_approve_at == 85
    assert j.stage("csm").evidence.entered and j.stage("csm").emails_on_enter == ("csm_introduction",)
    assert j.following("advanced_training") == {"approved": "end", "rejected": "advanced_training"}


def test_the_seed_journey_is_the_original_process():
    (stage,) = SEED.stages
    assert stage.evidence.column == "completed_at" and stage.evidence.source == "completions"
    assert stage.due.cohort_deadline and stage.reminders is None  # the cohort's reminder_days_before
    assert stage.on_missed == "cancel" and stage.emails_on_complete == ("welcome",)
    # Every bundled cohort runs it, and its fingerprint is what runs recorded before journeys existed.
    found = read_cohort_file()
    assert not found.broken and {c.journey for c in found.cohorts.values()} == {"seed"}
    from onboarding.cohorts import fingerprint

    assert all("journey" not in fingerprint(c) for c in found.cohorts.values())


_set = replaced  # doc with the value at path (keys and list indexes) replaced; None deletes


J = ("journeys", "saas-onboarding", "stages")


@pytest.mark.parametrize("path, value, message", [
    ((*J, 1, "next", 0, "to"), "csn", "journey 'saas-onboarding': stage 'details': next[0]: to: unknown stage 'csn'"),
    ((*J, 4, "next"), "verification",
     "stage 'setup': next: a cycle (verification -> details -> csm -> initial_training -> setup -> verification)"),
    ((*J, 0, "reminders"), ["2d", "3d"], "stage 'verification': reminders: 3d before due is at or before the stage "
                                         "is entered (due 3d after it): a reminder after the due time"),
    ((*J, 0, "reminders"), ["2 days"], "stage 'verification': reminders[0]: '2 days' is not a duration"),
    ((*J, 0, "remnders"), ["1d"], "stage 'verification': unknown key(s) ['remnders']"),
    ((*J, 0, "due", "after"), "signupp", "stage 'verification': due: after: expected 'signup' or 'entered'"),
    ((*J, 0, "due"), {"date": "2026-02-30"}, "stage 'verification': due: date: '2026-02-30' is not a date"),
    ((*J, 0, "evidence"), {"event": "x", "column": "y"}, "stage 'verification': evidence: name exactly one of"),
    ((*J, 2, "next"), [{"if": "approved", "to": "profile"}], "stage 'csm': next[0]: if: 'approved' needs the stage "
                                                             "to have an 'approval'"),
    ((*J, 3, "approval", "by"), "manager", "stage 'initial_training': approval: by: expected one of"),
    ((*J, 4, "together", 1, "on_missed"), "cancell", "stage 'integrations': on_missed: expected 'cancel', 'nothing' or"),
    ((*J, 1, "id"), "verification", "stage 'verification': id: appears twice"),
    ((*J, 5, "evidence"), {"event": "explored", "score": {"pass_mark": "high"}},
     "stage 'exploration': evidence: score: expected {pass_mark: <number>}"),
    ((*J, 2, "title"), "Your CSM", None),  # (control: a valid change)
    ((*J, 2, "reminders"), ["1d"], "stage 'csm': reminders: a stage without 'due' has nothing to remind of"),
    ((*J, 3, "next"), [{"if": "approved", "to": "advanced_training"}, {"if": "rejected", "to": "initial_training"}],
     "stage 'setup': no stage leads to it"),
])
def test_every_mistake_is_named_by_file_journey_stage_and_key(tmp_path, path, value, message):
    doc = _set(_sample(), path, value)
    if message is None:
        assert "saas-onboarding" in _load(doc, tmp_path)
        return
    with pytest.raises(ConfigError) as err:
        _load(doc, tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'journeys.yaml'}: ")
    assert message in str(err.value)


def test_a_cohort_names_a_known_journey_whose_cohort_reads_events(tmp_path):
    base = yaml.safe_load((ROOT / "config" / "cohorts.yaml").read_text())
    base["source_roots"] = [str(ROOT / "sample_data")]
    for c in base["cohorts"]:
        for s in c["sources"].values():
            if "path" in s:
                s["path"] = str((ROOT / "config" / s["path"]).resolve())
    (tmp_path / "journeys.yaml").write_text(SAMPLE.read_text())
    doc = {**base, "journeys": "journeys.yaml"}
    doc["cohorts"] = copy.deepcopy(base["cohorts"])
    doc["cohorts"][0]["journey"] = "saas-onboarding"
    doc["cohorts"][1]["journey"] = "sass-onboarding"
    (tmp_path / "cohorts.yaml").write_text(yaml.safe_dump(doc))
    found = read_cohort_file(tmp_path / "cohorts.yaml")
    first, second = base["cohorts"][0]["id"], base["cohorts"][1]["id"]
    # A journey's cohort reads the long events export, not a completion export.
    assert ("sources: expected exactly 'signups' and 'events' (and optionally ['csms', 'queries']) (what journey "
            "'saas-onboarding' reads)") in found.broken[first]
    assert "unknown journey 'sass-onboarding'; known: ['saas-onboarding', 'seed']" in found.broken[second]
    doc["cohorts"][0]["sources"]["events"] = {"type": "csv", "path": doc["cohorts"][0]["sources"].pop("completions")["path"],
                                              "columns": {"email": "user_email", "event": "event", "at": "at"}}
    (tmp_path / "cohorts.yaml").write_text(yaml.safe_dump(doc))
    found = read_cohort_file(tmp_path / "cohorts.yaml")
    assert first in found.cohorts and found.cohorts[first].completions is None
    assert [c.role for c in found.cohorts[first].exports] == ["signups", "events"]
    # A broken journey file stops only the cohorts that use a journey from it.
    (tmp_path / "journeys.yaml").write_text("journeys: {x: {stages: []}}")
    doc["cohorts"][1].pop("journey")
    (tmp_path / "cohorts.yaml").write_text(yaml.safe_dump(doc))
    found = read_cohort_file(tmp_path / "cohorts.yaml")
    assert second in found.cohorts and "journey 'x': stages: expected a list" in found.broken[first]


def test_the_command_checks_a_file_and_describes_it(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(SAMPLE)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "saas-onboarding: New account onboarding (8 stages)" in ok.stdout
    assert "approved by the csm (automatically at a score >= 85)" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_set(_sample(), (*J, 1, "next", 0, "to"), "nowhere")))
    out = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "to: unknown stage 'nowhere'" in out.stderr


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([None, "approved", "rejected"])), min_size=1, max_size=8))
def test_any_wiring_of_stages_is_either_accepted_or_refused_with_a_reason(edges):
    """Random branches between six stages: never a crash, never an accepted cycle."""
    stages = [{"id": f"s{i}", "evidence": {"entered": True}, "approval": {"by": "instructor"}} for i in range(6)]
    for src, (dst, cond) in enumerate(edges[:6]):
        stages[src]["next"] = [{"if": cond, "to": f"s{dst}"} if cond else {"to": f"s{dst}"}]
    try:
        j = journeys_from({"journeys": {"j": {"stages": stages}}}, Path("j.yaml"))["j"]
    except ConfigError as exc:
        assert str(exc).startswith("j.yaml: journey 'j'")
        return
    # Accepted: the graph without second tries (a 'rejected' branch back) has no cycle (Kahn's
    # algorithm removes every stage), and every stage is reachable from the first.
    order = {s.id: i for i, s in enumerate(j.stages)}
    edges = {s.id: {b.to for b in s.next if b.to != "end" and not (b.condition == "rejected"
                                                                   and order[b.to] <= order[s.id])}
             for s in j.stages}
    indegree = {n: 0 for n in edges}
    for targets in edges.values():
        for t in targets:
            indegree[t] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    removed = 0
    while ready:
        n = ready.pop()
        removed += 1
        for t in edges[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    assert removed == len(edges)


def test_a_stage_done_by_a_column_needs_the_cohorts_wide_export_mapping_it(tmp_path):
    """A stage read from a column of a wide export: the journey names the field, the cohort's
    ``completions`` source maps it to its header; without that source, or with the field unmapped,
    the cohort is refused naming what is missing (not run with a stage that could never complete)."""
    doc = _sample()
    doc["journeys"]["saas-onboarding"]["stages"][4]["together"][0]["evidence"] = {"column": "profile_done_at"}
    (tmp_path / "journeys.yaml").write_text(yaml.safe_dump(doc))
    cohorts = yaml.safe_load((ROOT / "config" / "journey-cohorts.yaml").read_text())
    cohorts["journeys"] = "journeys.yaml"
    cohorts["source_roots"] = [str(ROOT / "sample_data")]
    for c in cohorts["cohorts"]:
        for src in c["sources"].values():
            src["path"] = str((ROOT / "config" / src["path"]).resolve())

    def broken(**sources) -> str | None:
        doc = copy.deepcopy(cohorts)
        doc["cohorts"][0]["sources"].update(sources)
        (tmp_path / "cohorts.yaml").write_text(yaml.safe_dump(doc))
        found = read_cohort_file(tmp_path / "cohorts.yaml")
        return found.broken.get("saas-2026-11") or found.cohorts["saas-2026-11"]

    assert "sources: expected exactly 'signups' and 'events' and 'completions'" in broken()
    wide = {"type": "csv", "path": cohorts["cohorts"][0]["sources"]["events"]["path"],
            "columns": {"email": "User Email"}}
    assert "sources.completions.columns: profile_done_at must be mapped" in broken(completions=wide)
    extra = {**wide, "columns": {"email": "User Email", "profile_done_at": "Profile", "completed_at": "Done"}}
    assert "unknown field(s) ['completed_at']" in broken(completions=extra)
    ok = broken(completions={**wide, "columns": {"email": "User Email", "profile_done_at": "Profile"}})
    assert ok.completions.timestamps == ("profile_done_at",)
    assert [c.role for c in ok.exports] == ["signups", "completions", "events"]


@pytest.mark.parametrize("evidence, message", [
    ({"column": "Profile Done"}, "column: 'Profile Done' is not a field name"),
    ({"column": "email"}, "column: 'email' is not a field name"),
    ({"column": "profile_done_at", "source": "signups"}, "source: a column is read from the cohort's 'completions' export"),
    ({"event": "profile_completed", "source": "lms"}, "source: an event is read from the cohort's 'events' export"),
])
def test_a_stages_evidence_names_a_field_of_the_export_it_is_read_from(evidence, message):
    doc = _sample()
    doc["journeys"]["saas-onboarding"]["stages"][4]["together"][0]["evidence"] = evidence
    with pytest.raises(ConfigError) as err:
        journeys_from(doc, Path("j.yaml"))
    assert "stage 'profile': evidence: " + message in str(err.value)


def test_a_roster_per_cohort_is_a_csms_source_with_every_matched_attribute(tmp_path):
    """``csms: per_cohort``: each cohort of the journey gives its roster as an export (email, name,
    capacity, and every further column an attribute); one without it, or whose roster lacks an
    attribute the journey matches customers on, is refused naming the key."""
    import journey_trial

    journey_trial.write(tmp_path)
    found = read_cohort_file(tmp_path / "cohorts.yaml")
    roster = found.cohorts["trial-2026-11"].csms
    assert roster.attributes == ("language",) and found.cohorts["trial-2026-11"].signups.attributes == ("language",)
    text = (tmp_path / "cohorts.yaml").read_text()
    (tmp_path / "cohorts.yaml").write_text(text.replace("Capacity, language: Language}}", "Capacity}}"))
    found = read_cohort_file(tmp_path / "cohorts.yaml")
    assert ("sources.csms.columns: journey 'trial' matches customers to CSMs on ['language']"
            in found.broken["trial-2026-11"])
    no_roster = "\n".join(line for line in text.splitlines() if "csms:" not in line)
    (tmp_path / "cohorts.yaml").write_text(no_roster)
    assert "give the cohort a 'csms' source" in read_cohort_file(tmp_path / "cohorts.yaml").broken["trial-2026-11"]
    bad_attr = text.replace("Capacity, language: Language}}", "Capacity, Language!: Language}}")
    (tmp_path / "cohorts.yaml").write_text(bad_attr)
    assert "not attribute names" in read_cohort_file(tmp_path / "cohorts.yaml").broken["trial-2026-11"]


def test_a_journeys_queries_come_from_the_events_export_or_a_support_export(tmp_path):
    """A journey routing queries reads them from the events export (its ``asked`` and ``answered``
    events) or from a ``queries`` support export (email, asked_at, answered_at, link); a cohort
    with neither is refused naming both."""
    import journey_trial

    journey_trial.write(tmp_path)
    journeys = (tmp_path / "journeys.yaml").read_text()
    start = journeys.index("      - id: training")
    (tmp_path / "journeys.yaml").write_text(journeys[:start] + "      - id: training\n"
                                            "        evidence: {column: trained_at}\n")
    text = (tmp_path / "cohorts.yaml").read_text().replace("project_created_at: First project}",
                                                          "project_created_at: First project, trained_at: Trained}")
    lines = text.splitlines()

    def read(*drop: str):
        (tmp_path / "cohorts.yaml").write_text("\n".join(l for l in lines if not any(f"{d}: {{" in l for d in drop)))
        found = read_cohort_file(tmp_path / "cohorts.yaml")
        return found.broken.get("trial-2026-11") or found.cohorts["trial-2026-11"]

    assert [c.role for c in read("events").exports] == ["signups", "completions", "csms", "queries"]
    assert [c.role for c in read("queries").exports] == ["signups", "completions", "events", "csms"]
    assert "routes queries: give the cohort an 'events' export" in read("events", "queries")
