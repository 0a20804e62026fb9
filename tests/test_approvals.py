"""Batched approvals (issue 13): one request per cohort, stage and night listing everyone waiting
(what they submitted, when, a link to the evidence), shaped for Airflow's HITLOperator; the
approver's ticks and reject lines become recorded decisions with their author; whoever is left
waits, blocking nobody; the engine then moves the approved on and sends the rejected back."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import re
from html import unescape

from hypothesis import given, settings, strategies as st

from markdown_it import MarkdownIt

from onboarding.cohorts import read_yaml
from onboarding.decisions.approvals import decisions, requests
from onboarding.decisions.journey import Attempt, Facts, Settings, walk
from onboarding.journeys import journeys_from
from onboarding.ops.approver import waiting_rows

ROOT = Path(__file__).resolve().parents[1]
SYD = ZoneInfo("Australia/Sydney")
SAAS = journeys_from(read_yaml(ROOT / "config" / "journeys.yaml"), ROOT / "config" / "journeys.yaml")["saas-onboarding"]
SET = Settings(dt.datetime(2027, 1, 1, tzinfo=SYD), dt.datetime(2026, 12, 1, tzinfo=SYD), SYD)
T = dt.datetime(2026, 12, 1, 10, tzinfo=SYD)
NIGHT = dt.datetime(2026, 12, 3, 6, tzinfo=SYD)


def facts(i, approvals=()):
    return Facts(T, {"events:event:email_verified": (Attempt(T + dt.timedelta(hours=1)),),
                     "events:event:details_submitted": (Attempt(T + dt.timedelta(hours=2 + i)),)}, approvals)


PEOPLE = {"ann@x.org": "Ann Lee", "bob@x.org": "Bob | <b>Bold</b>", "cat@x.org": "Cat Ng"}


def timelines(approvals=None):
    approvals = approvals or {}
    return {e: (n, walk(SAAS, facts(i, tuple(approvals.get(e, ()))), NIGHT, SET)) for i, (e, n) in enumerate(PEOPLE.items())}


def test_one_request_lists_everyone_waiting_and_the_answer_moves_them_on():
    (req,) = requests(SAAS, "c1", timelines(), SYD, links={"ann@x.org": "https://lms.example/ann"})
    assert (req.stage, req.approver) == ("details", "instructor")
    assert req.subject == "c1: approve Tell us about your team (3 waiting)"
    assert req.options == ("Ann Lee <ann@x.org>", "Bob | <b>Bold</b> <bob@x.org>", "Cat Ng <cat@x.org>")
    assert ("| Ann Lee &lt;ann\\@x\\.org&gt; | Tue 01 Dec 12:00 |  | [open](<https://lms.example/ann>) lms\\.example |"
            in req.body)
    # A name cannot break the table: the approver reads it as written, in its own cell.
    assert [r[0] for r in table(req.body)] == ["Ann Lee <ann@x.org>", "Bob | <b>Bold</b> <bob@x.org>", "Cat Ng <cat@x.org>"]
    assert [w["email"] for w in waiting_rows(req.body)] == ["ann@x.org", "bob@x.org", "cat@x.org"]
    at = NIGHT + dt.timedelta(hours=3)
    recorded, problems = decisions(req, ["Ann Lee <ann@x.org>"], {"reject": "BOB@x.org: company name missing\n"},
                                   "instructor", at)
    assert problems == []
    assert [(r.email, r.approval.decision, r.approval.by, r.approval.reason) for r in recorded] == [
        ("ann@x.org", "approved", "instructor", ""), ("bob@x.org", "rejected", "instructor", "company name missing")]
    # The engine, with the recorded decisions: Ann moves on, Bob tries again, Cat still waits.
    by_email = {}
    for r in recorded:
        by_email.setdefault(r.email, []).append(r.approval)
    later = NIGHT + dt.timedelta(days=1)
    after = {e: walk(SAAS, facts(i, tuple(by_email.get(e, ()))), later, SET) for i, e in enumerate(PEOPLE)}
    assert after["ann@x.org"].stage == "csm"  # approved: on to the CSM stage, waiting for a CSM with room
    placed = walk(SAAS, replace(facts(0, tuple(by_email["ann@x.org"])), csm_assigned_at=later), later, SET)
    assert placed.stage == "initial_training"  # placed: through the CSM stage, into training
    assert [(v.stage, v.number) for v in after["bob@x.org"].visits][-1] == ("details", 2)
    assert after["cat@x.org"].standing == "awaiting_approval"
    # The next night's request lists only Cat.
    (again,) = requests(SAAS, "c1", {e: (PEOPLE[e], t) for e, t in after.items()}, SYD)
    assert [w.email for w in again.people] == ["cat@x.org"]


def rendered(markdown: str) -> str:
    """The body as Airflow's Required Actions page shows it: GFM (tables, autolinked www. and
    https:// and addresses), raw HTML allowed (the worst case)."""
    return MarkdownIt("gfm-like", {"html": True}).render(markdown)


def table(markdown: str) -> list[list[str]]:
    """The rendered table's body cells, as text."""
    html = rendered(markdown)
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return [[unescape(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def shown(text: str) -> str:
    """What a cell may show of a text: one line, control characters as spaces, 120 characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:120]


EVIL = "![p](https://evil.example/pixel.png) [APPROVE ALL HERE](https://evil.example/phish)"


@settings(max_examples=200, deadline=None)
@given(name=st.one_of(st.just(EVIL), st.just("<img src=x onerror=alert(1)> *bold* `code` www.evil.example &amp; \\"),
                      st.text(alphabet=st.sampled_from(list("![]()<>*_`~|\\&#:/.@ wwwhtpsx=\"'\n")), max_size=60)),
       link=st.one_of(st.none(), st.just(EVIL), st.just("javascript:alert(1)"), st.just("https://evil.example/a) [x](y"),
                      st.text(max_size=40)))
def test_customer_text_in_an_approval_request_is_plain_text(name, link):
    """Markdown, HTML, links and images in a name or an evidence link render as the text they
    are: no image, no tag, no link but the evidence's own "open" (to its http(s) address, which
    cannot close it early)."""
    tl = {"ann@x.org": (name, walk(SAAS, facts(0), NIGHT, SET))}
    (req,) = requests(SAAS, "c1", tl, SYD, links={"ann@x.org": link} if link else None)
    html = rendered(req.body)
    html = html[html.index("<tbody>"):]  # the customers' rows (the prose above them is ours)
    assert not re.search(r"<(?!/?(?:table|tbody|tr|td|a)\b)", html)  # no image, no tag, no emphasis, no code
    links = re.findall(r"<a href=\"([^\"]*)\">(.*?)</a>", html)
    assert all(text == "open" for _, text in links) and len(links) <= 1
    assert all(unescape(href).startswith(("https://", "http://")) for href, _ in links)
    ((who, _, _, evidence),) = table(req.body)
    assert who.strip() == f"{shown(name)} <ann@x.org>".strip()  # as written: nothing swallowed or added
    if link and not links:
        assert evidence.strip() == shown(link)
    ((row),) = waiting_rows(req.body)
    assert row["email"] == "ann@x.org"
    assert "\n" not in req.options[0] and req.options[0].endswith(" <ann@x.org>")


def test_a_muddled_answer_decides_only_what_is_clear():
    (req,) = requests(SAAS, "c1", timelines(), SYD)
    recorded, problems = decisions(req, ["Ann Lee <ann@x.org>", "Eve <eve@x.org>"],
                                   {"reject": "ann@x.org: wrong\nzed@x.org: unknown\ncat@x.org\n\nbob@x.org:  "},
                                   "instructor", NIGHT)
    assert recorded == []
    assert problems == ["'Eve <eve@x.org>' is not one of the customers listed",
                        "reject line 1: ann@x.org is also ticked as approved; neither is recorded",
                        "reject line 2: 'zed@x.org' is not waiting on this approval",
                        "reject line 3: cat@x.org: give the reason after a colon",
                        "reject line 5: bob@x.org: give the reason after a colon"]


def test_nobody_waiting_no_request():
    assert requests(SAAS, "c1", {"ann@x.org": ("Ann", walk(SAAS, Facts(T), NIGHT, SET))}, SYD) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(PEOPLE)), unique=True), st.lists(st.sampled_from(list(PEOPLE)), unique=True))
def test_every_answer_decides_each_customer_at_most_once(ticked, rejected):
    (req,) = requests(SAAS, "c1", timelines(), SYD)
    labels = [o for o in req.options if req.email_of(o) in ticked]
    recorded, problems = decisions(req, labels, {"reject": "\n".join(f"{e}: reason" for e in rejected)}, "x", NIGHT)
    emails = [r.email for r in recorded]
    assert len(emails) == len(set(emails))
    assert set(emails) == set(ticked) ^ set(rejected)  # both ticked and rejected: neither
    assert len(problems) == len(set(ticked) & set(rejected))


def test_decisions_and_visits_are_kept_in_the_state_database(engine):
    """Recorded with their author on SQLite and PostgreSQL, once however often the answer is
    recorded; read back, the engine walks the same timelines; a run's visits are replaced whole."""
    from onboarding.decisions.approvals import approval_rows
    from onboarding.decisions.journey import approvals_by_customer, visit_rows
    from onboarding.store import Store

    store = Store(engine)
    (req,) = requests(SAAS, "c1", timelines(), SYD)
    recorded, _ = decisions(req, ["Ann Lee <ann@x.org>"], {"reject": "bob@x.org: company name missing"}, "boss",
                            NIGHT + dt.timedelta(hours=2))
    assert store.journeys.record_approvals("c1", approval_rows(recorded), request="r1/approve_details/0") == 2
    assert store.journeys.record_approvals("c1", approval_rows(recorded)) == 0
    kept = approvals_by_customer(store.journeys.approvals("c1"))
    assert kept["bob@x.org"][0].reason == "company name missing" and kept["ann@x.org"][0].by == "boss"
    later = NIGHT + dt.timedelta(days=1)
    walked = {e: walk(SAAS, facts(i, kept.get(e, ())), later, SET) for i, e in enumerate(PEOPLE)}
    assert store.journeys.replace_visits("r2", "c1", visit_rows(walked)) == sum(len(t.visits) for t in walked.values())
    rows = store.journeys.visits("r2", "c1")
    assert [(r["stage"], r["visit"], r["outcome"]) for r in rows if r["email"] == "bob@x.org"] == [
        ("verification", 1, "completed"), ("details", 1, "rejected"), ("details", 2, "in_progress")]
    store.journeys.replace_visits("r2", "c1", visit_rows({"ann@x.org": walked["ann@x.org"]}))
    assert {r["email"] for r in store.journeys.visits("r2", "c1")} == {"ann@x.org"}


def test_approving_nobody_tonight_decides_nothing_but_the_rejections():
    """Airflow's form needs one option picked: '(approve nobody tonight)' lets the approver only
    reject, or put the decision off."""
    from onboarding.decisions.approvals import NOBODY

    (req,) = requests(SAAS, "c1", timelines(), SYD)
    at = NIGHT + dt.timedelta(hours=1)
    decided, problems = decisions(req, [NOBODY], {"reject": "cat@x.org: no team size"}, "lena", at)
    assert problems == [] and [(d.email, d.approval.decision) for d in decided] == [("cat@x.org", "rejected")]
    assert decisions(req, [NOBODY], {"reject": None}, "lena", at) == ([], [])
