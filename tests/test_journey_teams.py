"""Teams, owners and handoffs (issue 28): checked at load, listed by ``journeys check``; each team's
digest and its approval requests addressed to its members only, through the real DAG; the
instructor's summary counts what waits on each team; the customer's timeline marks a handoff."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from helpers import replaced
from onboarding.errors import ConfigError
from onboarding.journeys import journeys_from

ROOT = Path(__file__).resolve().parents[1]


def _doc():
    import journey_teams

    return yaml.safe_load(journey_teams.JOURNEYS)


def _load(doc, path=Path("teams.yaml")):
    return journeys_from(doc, path)["handover"]


def test_teams_owners_and_handoffs_are_read_as_written():
    j = _load(_doc())
    assert [(t.name, t.title, t.addresses, t.cadence) for t in j.teams] == [
        ("sales", "Sales", ("sam@team.org", "sue@team.org"), "daily"),
        ("services", "Professional services", ("svc@team.org",), "daily"),
        ("success", "Customer success", ("cat@team.org",), "weekly:mon")]
    assert [s.owner for s in j.stages] == ["sales", "services", "success"]
    assert [s.approval_by for s in j.stages] == ["sales", "services", None]
    assert [(h.from_stage, h.to_stage, h.from_owner, h.to_owner) for h in j.handoffs()] == [
        ("kickoff", "setup", "sales", "services"), ("setup", "adoption", "services", "success")]
    # The weekly team hears on Mondays only (the cohort's local day).
    success = j.team("success")
    assert [success.digest_due(dt.date(2026, 11, 30) + dt.timedelta(days=i)) for i in range(7)] == [
        True, False, False, False, False, False, False]
    assert all(j.team("sales").digest_due(dt.date(2026, 11, 30) + dt.timedelta(days=i)) for i in range(7))


def test_the_sample_journey_names_its_owners_and_its_handoffs():
    out = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(ROOT / "config" / "journeys.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Team Support (support): support@example.com; digest daily" in out.stdout
    assert "Team Customer success (success): priya@example.com, jonas@example.com, mia@example.com; digest weekly on mon" \
        in out.stdout
    assert "owned by the instructor; approved by the instructor" in out.stdout
    assert "  Handoffs (4):\n    verification -> details: the Support team hands the customer to the instructor\n" \
           "    details -> csm: the instructor hands the customer to the Customer success team\n" in out.stdout


def test_a_team_approval_and_owners_in_the_journey_check(tmp_path):
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(_doc()))
    out = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "owned by the Sales team; approved by the Sales team" in out.stdout
    assert "kickoff -> setup: the Sales team hands the customer to the Professional services team" in out.stdout
    assert "setup -> adoption: the Professional services team hands the customer to the Customer success team" \
        in out.stdout


def _set(doc, path, value):
    """The handover journey's document with the value at ``path`` (within the journey) replaced."""
    return replaced(doc, ("journeys", "handover", *path), value)


@pytest.mark.parametrize("path, value, message", [
    (("stages", 1, "owner"), "sale", "stage 'setup': owner: unknown team 'sale'; the journey's teams: "
                                     "['sales', 'services', 'success'] (or 'instructor')"),
    (("stages", 0, "approval", "by"), "marketing", "stage 'kickoff': approval: by: expected one of "
                                                   "['instructor', 'csm'] or a team of the journey's 'teams'"),
    (("teams", "services", "members"), [], "teams: services: members: expected the team's address, or a list"),
    (("teams", "services", "members"), None, "teams: services"),
    (("teams", "sales", "members"), ["sam@team.org", "SAM@team.org"], "[1]: sam@team.org appears twice"),
    (("teams", "sales", "members"), ["=?utf-8?q?boss?=@team.org"], "is not one email address"),
    (("teams", "sales", "members"), "sam@team.org, eve@evil.org", "is not one email address"),
    (("teams", "sales", "members"), "Sam <sam@team.org>", "is not one email address"),
    (("teams", "sales", "members"), "sam@team.org\r\nBcc: eve@evil.org", "is not one email address"),
    (("teams", "sales", "title"), "Sales\nTeam", "teams: sales: title"),
    (("teams", "sales", "digest"), "hourly", "teams: sales: digest"),
    (("teams", "sales", "digest"), "weekly:funday", "teams: sales: digest"),
    (("teams", "../etc"), {"members": "x@team.org"}, "teams"),
    (("teams", "Sales Team"), {"members": "x@team.org"}, "teams"),
    (("teams", "<b>x</b>"), {"members": "x@team.org"}, "teams"),
    (("teams", "csm"), {"members": "x@team.org"}, "teams: 'csm': the name is taken"),
    (("teams", "instructor"), {"members": "x@team.org"}, "teams: 'instructor': the name is taken"),
    (("teams", "end"), {"members": "x@team.org"}, "teams: 'end': the name is taken"),
    (("stages", 0, "owner"), "=HYPERLINK(\"http://evil\")", "stage 'kickoff': owner:"),
    (("stages", 0, "owner"), "../../etc/passwd", "stage 'kickoff': owner:"),
    (("teams",), None, "stage 'kickoff': owner: unknown team 'sales'"),
])
def test_hostile_or_wrong_teams_are_refused_naming_the_file_journey_stage_and_key(path, value, message):
    with pytest.raises(ConfigError) as err:
        _load(_set(_doc(), path, value), Path("conf/teams.yaml"))
    text = str(err.value)
    assert text.startswith("conf/teams.yaml: journey 'handover'"), text
    assert message in text, text
    assert "\n" not in text and "\r" not in text  # a hostile value is echoed escaped, never as a line of its own


def test_a_team_member_address_is_kept_as_one_plain_lower_case_address():
    j = _load(_set(_doc(), ("teams", "services", "members"), "  SVC@Team.org "))
    assert j.team("services").addresses == ("svc@team.org",)


# --- each team's digest, as a model ---------------------------------------------------------------

STAGES = ("kickoff", "setup", "adoption")
STANDINGS = ("awaiting_approval", "overdue", "stuck", "waiting_for_csm")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STAGES), st.sampled_from(STANDINGS),
                          st.sampled_from(("instructor", "csm", "sales", "services", "success"))),
                max_size=40))
def test_each_team_digest_lists_what_waits_on_it_each_once(waiting):
    """Any night's waiting rows: a team's digest lists each row of a stage it owns or of an
    approval by it, exactly once; a team's approval never reaches the instructor's or a CSM's."""
    from onboarding.reporting.digests import TEAM, digests, team_counts

    j = _load(_doc())
    rows = [{"email": f"c{i}@x.org", "name": f"C{i}", "item": stage, "standing": standing, "waits_on": waits_on,
             "csm_email": "csm@x.org" if waits_on == "csm" else None, "since": "2026-11-27T10:00:00+00:00",
             "escalated": 0} for i, (stage, standing, waits_on) in enumerate(waiting)]
    found = digests(rows, {"csm@x.org": "Cat"}, ZoneInfo("Europe/London"), {s.id: s.title for s in j.stages}, j)
    owners = {s.id: s.owner for s in j.stages}
    for team in j.teams:
        want = sorted(r["email"] for r in rows if team.name in (r["waits_on"], owners[r["item"]]))
        got = sorted(line["email"] for line in found[TEAM + team.name].lines) if TEAM + team.name in found else []
        assert got == want, team.name
        assert found[TEAM + team.name].name == f"{team.shown} team" if want else True
    teams = {t.name for t in j.teams}
    for who in ("instructor", "csm@x.org"):
        listed = [line["email"] for line in found[who].lines] if who in found else []
        assert not {r["email"] for r in rows if r["waits_on"] in teams} & set(listed)
        assert len(listed) == len(set(listed))
    assert team_counts(found, j) == [(t.shown, sum(1 for r in rows if t.name in (r["waits_on"], owners[r["item"]])))
                                     for t in j.teams]


# --- through the DAG ------------------------------------------------------------------------------

COHORT = "handover-2026-11"


@pytest.mark.dagrun
def test_three_teams_two_handoffs_through_the_dag(airflow_db, airflow_env, fake_google, monkeypatch, tmp_path):
    """Night 1: Ann and Bob wait on Sales' approval: one request, addressed to Sales' two members;
    a Viewer and Services' member are refused it, Sales' member answers (Ann approved, Bob
    rejected); Sales' digest goes to each of its members once, no other team's goes out. Night 2:
    Ann, handed from Sales to Professional services, waits on Services' approval: its request to
    Services' one address, its digest to it once; the summary counts per team; her timeline
    marks the handoff."""
    import journey_teams
    import ui_client
    from airflow.dag_processing.dagbag import DagBag

    from onboarding.ops.approver import Approver, run_approvals
    from onboarding.resources import Resources
    from test_journey_dag import rows, run_night

    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(journey_teams.write(tmp_path)))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    nightly, approvals = bag.dags["onboarding_nightly"], bag.dags["onboarding_approvals"]
    api = ui_client.client()

    def as_user(name, role):
        return ui_client.bearer(ui_client.token(name, role=role))

    class Team(Approver):
        """Sales' member answers after a Viewer and another team's member were refused."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.refused: list[tuple[str, int]] = []
            self.assigned: list[str] = []

        def answer(self, detail):
            ti = detail["task_instance"]
            url = (f"/api/v2/dags/{self.dag_id}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
                   f"/{ti['map_index']}/hitlDetails")
            for who, headers in (("viewer", as_user("vera", "viewer")),
                                 ("other team", as_user("svc@team.org" if "Sales" in detail["subject"]
                                                        else "sam@team.org", "admin"))):
                r = self.client.patch(url, json={"chosen_options": detail["options"][:1], "params_input": {}},
                                      headers=headers)
                self.refused.append((who, r.status_code))
            self.assigned = [u["id"] for u in detail.get("assigned_users") or []]
            super().answer(detail)

    def policy(request):
        chosen = [o for o in request["options"] if "ann@x.org" in o]
        reject = "bob@x.org: the kickoff call was cancelled" if any("bob@x.org" in o for o in request["options"]) else ""
        return chosen or [o for o in request["options"] if "<" not in o][:1], reject

    seen: set[str] = set()

    def night(day, member):
        state, run_id = run_night(nightly, day)
        assert state == "success"
        with Team(api, as_user(member, "user"), policy=policy) as person:
            done = run_approvals(approvals, run_id)
        assert done is not None and str(getattr(done.state, "value", done.state)) == "success"
        assert not person.errors, person.errors
        new = [m for mid, m in fake_google.sent.items() if mid not in seen]
        seen.update(fake_google.sent)
        return run_id, new, person

    # Night 1 (Sat 28 Nov, London): Sales' approval.
    run1, sent1, sales = night(dt.date(2026, 11, 28), "sam@team.org")
    store = Resources().store()
    (req,) = store.journeys.requests(run1)
    assert req["stage"] == "kickoff" and req["approver"] == "sales" and req["answered_by"] == "sam@team.org"
    assert req["subject"].endswith(", for Sales") and sorted(req["people"]) == ["ann@x.org", "bob@x.org"]
    assert sales.assigned == ["sam@team.org", "sue@team.org"]
    assert sales.refused == [("viewer", 403), ("other team", 403)]
    (answer,) = sales.answered
    assert answer["reject"] == "bob@x.org: the kickoff call was cancelled"
    decided = rows("SELECT email, decision, decided_by FROM approvals WHERE cohort_id = :c ORDER BY email", c=COHORT)
    assert decided == [{"email": "ann@x.org", "decision": "approved", "decided_by": "sam@team.org"},
                       {"email": "bob@x.org", "decision": "rejected", "decided_by": "sam@team.org"}]
    team_mail = [m for m in sent1 if "team.org>" in m["to"]]
    assert sorted(m["to"].rsplit("<", 1)[1].rstrip(">") for m in team_mail) == ["sam@team.org", "sue@team.org"]
    assert all(m["subject"].startswith(f"{COHORT}: 2 customer item(s) wait on the Sales team") for m in team_mail)
    assert all("ann@x.org" in m["text"] and "bob@x.org" in m["text"] and "Kickoff call" in m["text"]
               for m in team_mail)
    summary1 = next(m for m in sent1 if m["to"] == "lead@example.com" and "run as of" in m["subject"])
    assert "WAITING ON TEAMS: Sales 2, Professional services 0, Customer success 0" in summary1["text"]
    assert "WAITING ON YOU" not in summary1["text"]  # a team's approval is not the instructor's

    # Night 2 (Sun 29 Nov): Ann is handed to Professional services, whose one address is asked.
    run2, sent2, services = night(dt.date(2026, 11, 29), "svc@team.org")
    (req2,) = store.journeys.requests(run2)
    assert (req2["stage"], req2["approver"], req2["people"]) == ("setup", "services", ["ann@x.org"])
    assert services.assigned == ["svc@team.org"] and services.refused == [("viewer", 403), ("other team", 403)]
    team_mail2 = [m for m in sent2 if "team.org>" in m["to"]]
    assert [m["to"].rsplit("<", 1)[1].rstrip(">") for m in team_mail2] == ["svc@team.org"]
    assert "Technical setup" in team_mail2[0]["text"] and "bob@x.org" not in team_mail2[0]["text"]
    summary2 = next(m for m in sent2 if m["to"] == "lead@example.com" and "run as of" in m["subject"])
    assert "WAITING ON TEAMS: Sales 0, Professional services 1, Customer success 0" in summary2["text"]
    # Each team digest through the ledger, once per member and night.
    ledger = rows("SELECT recipient, kind, decided_run_id, status FROM email_ledger WHERE cohort_id = :c "
                  "AND kind LIKE 'team_digest_%' ORDER BY decided_run_id, recipient", c=COHORT)
    assert [(r["recipient"], r["kind"], r["decided_run_id"], r["status"]) for r in ledger] == [
        ("sam@team.org", "team_digest_sales", run1, "sent"), ("sue@team.org", "team_digest_sales", run1, "sent"),
        ("svc@team.org", "team_digest_services", run2, "sent")]

    # Her timeline marks the handoff.
    from onboarding.cohorts import read_cohort_file
    from onboarding.reporting.page import PageReads

    page = PageReads(store, read_cohort_file()).customer(COHORT, "ann@x.org")
    texts = [line["text"] for line in page["timeline"]]
    assert "Handed from Sales to Professional services" in texts, texts
    bob = [line["text"] for line in PageReads(store, read_cohort_file()).customer(COHORT, "bob@x.org")["timeline"]]
    assert not any(t.startswith("Handed") for t in bob)

    # A team's member erased: Airflow's database named her as one who may answer (the request's
    # assignees) and as the one who did; after her erasure it names her nowhere.
    from onboarding.pipeline.erasure import staff_names
    from privacy_trial import grep_metadata_database

    assert "hitl_detail.assignees" in grep_metadata_database(["sam@team.org"])
    assert staff_names(store, "sam@team.org", "*", read_cohort_file().cohorts) == []  # staff, by address only
    from onboarding import airflow_db

    scrubbed = airflow_db.erase_person("sam@team.org", [], "*")
    assert scrubbed["approval_requests"] >= 1
    assert grep_metadata_database(["sam@team.org"]) == {}
