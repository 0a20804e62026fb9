"""Support answers queries (issue 28): ``queries: {owner: <team>}`` routes a customer's open query
to that team (its digest, its count in the instructor's summary), not to the customer's CSM; past
``escalate_after`` the instructor is told and a copy stays with the team. Without ``owner`` a
query is the CSM's as before. Checked at load; through the real DAG for one night."""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from onboarding.errors import ConfigError
from onboarding.journeys import journeys_from
from onboarding.reporting.digests import TEAM, digests, needs_lines, team_counts
from test_journey_run import SAAS, Ask, approved_details, cohort, decide_journey, facts, people, t
from onboarding.times import iso

ROOT = Path(__file__).resolve().parents[1]
LON = ZoneInfo("Europe/London")


def _query(email: str, at: dt.datetime, link: str, event: str = "query_asked") -> dict:
    return {"email": email, "event": event, "at": iso(at), "value": None, "link": link}


def _open(out) -> dict[str, dict]:
    return {w["email"]: w for w in out.waiting if w["standing"] == "open_query"}


def _digests(out, journey):
    rows = [{**w, "name": w["email"].upper()} for w in out.waiting]
    return digests(rows, {c.email: c.name for c in journey.csms}, LON, {s.id: s.title for s in journey.stages},
                   journey)


def _emails(found, who) -> set[str]:
    return {line["email"] for line in found[who].lines} if who in found else set()


# --- the sample: support answers queries ----------------------------------------------------------

def _night(journey):
    """Four placed customers; p0's query open 2.5 days, p1's half a day, p2's answered, p3's
    open exactly ``escalate_after`` (2 days: not yet longer)."""
    events, approvals = approved_details(4, t(1))
    events += [_query("p0@x.org", t(2), "https://s/t/1"), _query("p1@x.org", t(4), "https://s/t/2"),
               _query("p2@x.org", t(3), "https://s/t/3"), _query("p2@x.org", t(3.2), "https://s/t/3", "query_answered"),
               _query("p3@x.org", t(2.5), "https://s/t/4")]
    return decide_journey(replace(cohort(), journey_spec=journey), journey, Ask(t(4.5)),
                          facts(people(4), events, approvals))


def test_the_sample_routes_open_queries_to_support_then_the_instructor():
    assert SAAS.queries.owner == "support"
    out = _night(SAAS)
    csm_of = {a["email"]: a["csm_email"] for a in out.assigned}
    q = _open(out)
    assert set(q) == {"p0@x.org", "p1@x.org", "p3@x.org"}  # p2's was answered
    assert (q["p1@x.org"]["waits_on"], q["p1@x.org"]["escalated"]) == ("support", 0)
    assert (q["p3@x.org"]["waits_on"], q["p3@x.org"]["escalated"]) == ("support", 0)  # exactly 2d: not longer
    assert (q["p0@x.org"]["waits_on"], q["p0@x.org"]["escalated"]) == ("instructor", 1)
    assert q["p1@x.org"]["csm_email"] == csm_of["p1@x.org"]  # the CSM is still recorded, not asked

    found = _digests(out, SAAS)
    assert _emails(found, TEAM + "support") == {"p0@x.org", "p1@x.org", "p3@x.org"}  # escalated: a copy stays
    assert found[TEAM + "support"].counts == {"open_query": 3}
    assert {line["link"] for line in found[TEAM + "support"].lines} == {"https://s/t/1", "https://s/t/2",
                                                                        "https://s/t/4"}
    assert _emails(found, "instructor") & {"p0@x.org", "p1@x.org", "p3@x.org"} == {"p0@x.org"}
    for csm in {c.email for c in SAAS.csms}:  # no CSM hears of a query
        assert not [line for line in (found[csm].lines if csm in found else ()) if line["standing"] == "open_query"]
    assert ("Support", 3) in team_counts(found, SAAS)
    assert any("1 customer query(ies) open too long" in line for line in needs_lines(found["instructor"], None))


def test_without_an_owner_queries_are_the_csms_as_before():
    journey = replace(SAAS, queries=replace(SAAS.queries, owner=None))
    out = _night(journey)
    csm_of = {a["email"]: a["csm_email"] for a in out.assigned}
    q = _open(out)
    assert {e: (w["waits_on"], w["escalated"]) for e, w in q.items()} == {
        "p0@x.org": ("instructor", 1), "p1@x.org": ("csm", 0), "p3@x.org": ("csm", 0)}
    found = _digests(out, journey)
    assert "p1@x.org" in _emails(found, csm_of["p1@x.org"]) and "p3@x.org" in _emails(found, csm_of["p3@x.org"])
    support = [line for line in (found[TEAM + "support"].lines if TEAM + "support" in found else ())
               if line["standing"] == "open_query"]
    assert support == []


# --- a second shape: no CSMs at all, a team of professional services answers ----------------------

def _handover(owner: str | None = "services", escalate: str = "36h"):
    import journey_teams

    doc = yaml.safe_load(journey_teams.JOURNEYS)
    q = {"asked": "ticket_opened", "answered": "ticket_closed", "escalate_after": escalate}
    if owner is not None:
        q["owner"] = owner
    doc["journeys"]["handover"]["queries"] = q
    return journeys_from(doc, Path("teams.yaml"))["handover"]


def test_a_journey_without_csms_sends_queries_to_its_team_not_straight_to_the_instructor():
    """No roster: without an owner a query waits on the instructor at once (no CSM); with one it
    waits on the team for ``escalate_after`` (36h here), not the stage owner's team."""
    from onboarding.decisions.journey_run import _open_queries

    j = _handover()
    asked = dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)
    events = [{"email": "ann@x.org", "event": "ticket_opened", "at": iso(asked), "link": None},
              {"email": "bob@x.org", "event": "ticket_opened", "at": iso(asked), "link": "https://t/9"},
              {"email": "bob@x.org", "event": "ticket_opened", "at": iso(asked + dt.timedelta(hours=1)),
               "link": "https://t/10"},
              {"email": "bob@x.org", "event": "ticket_closed", "at": iso(asked + dt.timedelta(hours=2)),
               "link": "https://t/10"}]
    for hours, want in ((36, ("services", 0)), (36.01, ("instructor", 1))):
        rows = _open_queries(j, events, asked + dt.timedelta(hours=hours), {})
        assert [(r["email"], r["waits_on"], r["escalated"]) for r in rows] == [
            ("ann@x.org", *want), ("bob@x.org", *want)], hours
    rows = _open_queries(_handover(owner=None), events, asked + dt.timedelta(hours=1), {})
    assert {r["waits_on"] for r in rows} == {"instructor"}  # as before: nobody else to ask

    # As digests: Ann's query, open an hour, is the Professional services team's alone, whatever
    # stage she is at (Sales owns her kickoff).
    rows = [{**r, "name": r["email"]} for r in _open_queries(j, events, asked + dt.timedelta(hours=1), {})]
    found = digests(rows, {}, LON, {s.id: s.title for s in j.stages}, j)
    assert set(found) == {TEAM + "services"}
    assert team_counts(found, j) == [("Sales", 0), ("Professional services", 2), ("Customer success", 0)]
    late = [{**r, "name": r["email"]} for r in _open_queries(j, events, asked + dt.timedelta(days=2), {})]
    found = digests(late, {}, LON, {s.id: s.title for s in j.stages}, j)
    assert set(found) == {"instructor", TEAM + "services"}
    assert [line["escalated"] for line in found[TEAM + "services"].lines] == [True, True]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 96), st.booleans(), st.booleans()), max_size=20),
       st.sampled_from(("services", "sales", None)))
def test_each_open_query_waits_on_exactly_its_answerer_until_it_escalates(queries, owner):
    """Any night: with an owner, each open query is in that team's digest (and no other team's, no
    CSM's), and in the instructor's exactly when open longer than escalate_after; without one,
    as before: the CSM's until it escalates, then the instructor's alone (at once with no CSM)."""
    from onboarding.decisions.journey_run import _open_queries

    j = _handover(owner=owner)
    as_of = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
    events, assigned, expect = [], {}, {}
    for i, (age, answered, has_csm) in enumerate(queries):
        email, link = f"c{i}@x.org", f"https://t/{i}"
        events.append({"email": email, "event": "ticket_opened", "at": iso(as_of - dt.timedelta(hours=age)),
                       "link": link})
        if answered:
            events.append({"email": email, "event": "ticket_closed", "at": iso(as_of), "link": link})
            continue
        if has_csm:
            assigned[email] = {"csm_email": "cat@csm.org"}
        expect[email] = (age > 36, has_csm)
    rows = [{**r, "name": r["email"]} for r in _open_queries(j, events, as_of, assigned)]
    assert sorted(r["email"] for r in rows) == sorted(expect)
    found = digests(rows, {"cat@csm.org": "Cat"}, LON, {s.id: s.title for s in j.stages}, j)
    for email, (late, has_csm) in expect.items():
        where = {who for who, d in found.items() if email in {line["email"] for line in d.lines}}
        if owner:  # the team's, a copy kept once escalated
            want = {TEAM + owner} | ({"instructor"} if late else set())
        else:  # as before: the CSM's until it escalates, then the instructor's alone
            want = {"instructor"} if late or not has_csm else {"cat@csm.org"}
        assert where == want, (email, late, has_csm, where)


# --- checked at load --------------------------------------------------------------------------------

@pytest.mark.parametrize("owner, message", [
    ("support", "queries: owner: unknown team 'support'; the journey's teams: ['sales', 'services', 'success']"),
    ("csm", "queries: owner: unknown team 'csm'"),
    ("instructor", "queries: owner: unknown team 'instructor'"),
    ("=HYPERLINK(\"http://evil\")", "queries: owner:"),
    ("../../etc/passwd", "queries: owner:"),
    ("<b>sales</b>", "queries: owner:"),
    ("=?utf-8?q?sales?=", "queries: owner:"),
    ("sales\r\nBcc: eve@evil.org", "queries: owner:"),
    ("**sales**", "queries: owner:"),
    (["sales"], "queries: owner:"),
])
def test_an_unknown_or_hostile_queries_owner_is_refused_naming_file_journey_and_key(owner, message):
    import journey_teams

    doc = yaml.safe_load(journey_teams.JOURNEYS)
    doc["journeys"]["handover"]["queries"] = {"asked": "a", "answered": "b", "owner": owner}
    with pytest.raises(ConfigError) as err:
        journeys_from(doc, Path("conf/teams.yaml"))
    text = str(err.value)
    assert text.startswith("conf/teams.yaml: journey 'handover'"), text
    assert message in text, text
    assert "\n" not in text and "\r" not in text


def test_an_owner_without_teams_is_refused_and_no_owner_keeps_the_journeys_version():
    import journey_trial

    doc = yaml.safe_load(journey_trial.JOURNEYS)
    with_owner = copy.deepcopy(doc)
    with_owner["journeys"]["trial"]["queries"]["owner"] = "support"
    with pytest.raises(ConfigError, match=r"trial.yaml: journey 'trial': queries: owner: unknown team 'support'; "
                                          r"the journey's teams: \[\]"):
        journeys_from(with_owner, Path("trial.yaml"))
    # Versions recorded before the key existed stay the same: an absent owner is not hashed.
    before = journeys_from(doc, Path("trial.yaml"))["trial"]
    explicit = copy.deepcopy(doc)
    explicit["journeys"]["trial"]["queries"]["owner"] = None
    assert journeys_from(explicit, Path("trial.yaml"))["trial"].digest == before.digest
    with_owner["journeys"]["trial"]["teams"] = {"support": "help@support.org"}
    assert journeys_from(with_owner, Path("trial.yaml"))["trial"].digest != before.digest


# --- through the DAG ------------------------------------------------------------------------------

@pytest.mark.dagrun
def test_a_query_goes_into_the_support_digest_not_the_csms_through_the_dag(airflow_db, airflow_env, fake_google,
                                                                           monkeypatch, tmp_path):
    """The trial cohort (CSMs per cohort, tickets from a support export), its queries owned by
    Support: Ann's ticket, open hours, is in Support's digest and not in her CSM's (Jonas); Bob's,
    open three days, in the instructor's summary and, a copy, in Support's; the summary counts
    Support's items; Bob's CSM's digest lists his overdue stage and no ticket."""
    import journey_trial
    from airflow.dag_processing.dagbag import DagBag

    from test_journey_dag import rows, run_night

    journeys = journey_trial.JOURNEYS.replace(
        "queries: {asked: query_asked, answered: query_answered, escalate_after: 2d}",
        "queries: {asked: query_asked, answered: query_answered, escalate_after: 2d, owner: support}\n"
        "    teams: {support: {title: Support, members: [help@support.org]}}")
    assert "owner: support" in journeys
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(journey_trial.write(tmp_path, journeys_yaml=journeys)))
    nightly = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    state, run_id = run_night(nightly, dt.date(2026, 11, 28))
    assert state == "success"

    waiting = rows("SELECT email, item, waits_on, csm_email, escalated FROM journey_waiting "
                   "WHERE run_id = :r AND standing = 'open_query' ORDER BY email", r=run_id)
    assert [(w["email"], w["item"], w["waits_on"], w["csm_email"], w["escalated"]) for w in waiting] == [
        ("ann@x.org", "https://support.example.com/t/1", "support", "jonas@example.com", 0),
        ("bob@x.org", "https://support.example.com/t/2", "instructor", "priya@example.com", 1)]
    sent = list(fake_google.sent.values())
    (support,) = [m for m in sent if "help@support.org" in m["to"]]
    assert "wait on the Support team" in support["subject"]
    assert "https://support.example.com/t/1" in support["text"] and "https://support.example.com/t/2" in support["text"]
    for csm in ("jonas@example.com", "priya@example.com", "mia@example.com"):  # no CSM hears of Ann's ticket
        assert not [m for m in sent if csm in m["to"] and "support.example.com/t/1" in m["text"]], csm
    summary = next(m for m in sent if m["to"] == "lead@example.com" and "run as of" in m["subject"])
    assert "WAITING ON TEAMS: Support 2" in summary["text"]
    assert "https://support.example.com/t/2" in summary["text"] and "https://support.example.com/t/1" not in summary["text"]
    ledger = rows("SELECT recipient, kind, status FROM email_ledger WHERE kind = 'team_digest_support'")
    assert [(r["recipient"], r["status"]) for r in ledger] == [("help@support.org", "sent")]


def test_journeys_check_says_who_answers_queries():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "onboarding.ops.journeys", "check", str(ROOT / "config" / "journeys.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "  Queries (query_asked until query_answered): answered by the Support team; the instructor's once open " \
           "longer than 2d\n" in out.stdout
