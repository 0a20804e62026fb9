"""The stage shapes of issue 25 in the one engine: a stage done by several named evidences (``all``
of them, at the last; ``any``, at the first; each customer's count kept per visit), an optional
stage (offered with its emails, skipped without penalty when its due time passes undone), and
stages side by side (``together``: entered at once, the walk goes on when all are done). Each
shape as a pure function of the facts, a second scenario of another shape (rows out of order,
all at once, a rejection and a second try, a step done late), the checker's refusals naming file,
journey, stage and key, hostile names, and the sample's steps 12-14 through the real DAG."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from helpers import events_cohort
from onboarding.cohorts import read_yaml
from onboarding.decisions.journey import (Approval, Attempt, Facts, Settings, unit_key, unseeable, visit_rows,
                                          walk)
from onboarding.errors import ConfigError
from onboarding.journeys import journeys_from, parse_journey

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
SET = Settings(dt.datetime(2027, 1, 1, tzinfo=UTC), dt.datetime(2026, 12, 20, tzinfo=UTC), UTC)
SAAS = journeys_from(read_yaml(ROOT / "config" / "journeys.yaml"), ROOT / "config" / "journeys.yaml")["saas-onboarding"]
TOOLS = ("calendar", "project_management", "notes", "communication", "social")


def t(day, hour=10):
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


def journey(text: str):
    return parse_journey("shapes", yaml.safe_load(text), "shapes")


TOOLS_YAML = """
stages:
  - id: tools
    title: Connect your tools
    emails_on_enter: [tools_invite]
    evidence:
      {need}:
        - {{name: calendar, event: calendar_integrated}}
        - {{name: notes, event: notes_integrated}}
        - {{name: chat, event: chat_integrated, score: {{pass_mark: 1}}}}
    due: {{after: entered, duration: 5d}}
    reminders: [2d]
    emails_on_complete: [tools_done]
"""
ALL = journey(TOOLS_YAML.format(need="all"))
ANY = journey(TOOLS_YAML.format(need="any"))


def ev(**rows):
    """Rows by event name, as the journey's evidence keys read them."""
    return {f"events:event:{k}": tuple(Attempt(*a) if isinstance(a, tuple) else Attempt(a) for a in v)
            for k, v in rows.items()}


def kinds(timeline):
    return [(e.stage, e.kind, e.visit) for e in timeline.emails]


# --- named evidences ---------------------------------------------------------------------------

def test_any_is_done_at_the_first_named_evidence_and_the_count_goes_on():
    rows = ev(notes_integrated=[t(3)], calendar_integrated=[t(5)], chat_integrated=[(t(4), 0.0)])  # chat: below 1
    first = walk(ANY, Facts(t(1), rows), t(3, 12), SET)
    (v,) = first.visits
    assert (v.outcome, v.completed_at, v.evidence_done) == ("completed", t(3), ("notes",))
    later = walk(ANY, Facts(t(1), rows), t(6), SET)
    assert later.visits[0].completed_at == t(3) and later.visits[0].evidence_done == ("calendar", "notes")
    assert kinds(later) == [("tools", "tools_invite", 1), ("tools", "tools_done", 1)]
    row = visit_rows({"ann@x.org": later}, ANY)[0]
    assert (row["evidence_done"], row["evidence_of"]) == ("calendar, notes", 3)


def test_all_is_done_at_the_last_one_needed_and_waits_with_its_count_until_then():
    rows = ev(notes_integrated=[t(3)], calendar_integrated=[t(2)], chat_integrated=[(t(4), 0.0), (t(5, 9), 2.0)])
    waiting = walk(ALL, Facts(t(1), rows), t(4, 12), SET)
    assert (waiting.standing, waiting.visits[0].evidence_done) == ("in_stage", ("calendar", "notes"))
    assert kinds(waiting) == [("tools", "tools_invite", 1), ("tools", "reminder_1", 1)]  # due 6 Nov 10:00
    done = walk(ALL, Facts(t(1), rows), t(6), SET)
    assert (done.standing, done.visits[0].completed_at, done.visits[0].evidence_done) == (
        "done", t(5, 9), ("calendar", "notes", "chat"))
    assert ("tools", "tools_done", 1) in kinds(done)
    # Not all of them by the due time: missed (on_missed: nothing), its count still shown.
    short = walk(ALL, Facts(t(1), ev(notes_integrated=[t(2)])), t(7), SET)
    assert (short.standing, short.visits[0].outcome, short.visits[0].evidence_done) == ("overdue", "missed", ("notes",))
    row = visit_rows({"ann@x.org": short}, ALL)[0]
    assert (row["evidence_done"], row["evidence_of"]) == ("notes", 3)
    none = visit_rows({"bo@x.org": walk(ALL, Facts(t(1), {}), t(2), SET)}, ALL)[0]
    assert (none["evidence_done"], none["evidence_of"]) == ("", 3)


def test_rows_all_at_once_in_any_order_decide_as_night_by_night():
    """A second scenario: the same rows arriving on one night, shuffled and doubled, decide what the
    nights that saw them one by one decided; rows from before the stage opened complete it on
    entering (no invitation to a step already done)."""
    rows = {"calendar_integrated": [t(5)], "notes_integrated": [t(3), t(3)], "chat_integrated": [(t(4), 3.0)]}
    forward = ev(**rows)
    backward = {k: tuple(reversed(v)) for k, v in forward.items()}
    for j in (ALL, ANY):
        assert walk(j, Facts(t(1), forward), t(9), SET) == walk(j, Facts(t(1), backward), t(9), SET)
    late_entry = journey("""
stages:
  - id: first
    evidence: {event: started}
  - id: tools
    emails_on_enter: [tools_invite]
    evidence:
      all:
        - {name: calendar, event: calendar_integrated}
        - {name: notes, event: notes_integrated}
""")
    out = walk(late_entry, Facts(t(1), ev(started=[t(8)], calendar_integrated=[t(2)], notes_integrated=[t(3)])),
               t(9), SET)
    assert [(v.stage, v.entered_at, v.completed_at, v.outcome) for v in out.visits] == [
        ("first", t(1), t(8), "completed"), ("tools", t(8), t(3), "completed")]
    assert kinds(out) == []  # both tools connected before the stage opened: no invitation


def test_a_rejected_named_stage_is_tried_again_with_the_rows_after_the_rejection():
    """A second try after a rejection counts the named evidences anew, from re-entering."""
    j = journey("""
stages:
  - id: tools
    emails_on_enter: [tools_invite]
    evidence:
      all:
        - {name: calendar, event: calendar_integrated}
        - {name: notes, event: notes_integrated}
    approval: {by: instructor}
    next: [{if: approved, to: end}, {if: rejected, to: tools}]
""")
    rows = ev(calendar_integrated=[t(2), t(6)], notes_integrated=[t(3)])
    rejected = (Approval("tools", "rejected", t(4), "lena", "wrong calendar"),)
    retry = walk(j, Facts(t(1), rows, rejected), t(7), SET)
    assert [(v.number, v.outcome, v.evidence_done) for v in retry.visits] == [
        (1, "rejected", ("calendar", "notes")), (2, "in_progress", ("calendar",))]
    assert kinds(retry) == [("tools", "tools_invite", 1), ("tools", "tools_invite", 2)]
    again = walk(j, Facts(t(1), ev(calendar_integrated=[t(2), t(6)], notes_integrated=[t(3), t(6, 12)]),
                          rejected + (Approval("tools", "approved", t(7), "lena"),)), t(8), SET)
    assert [(v.number, v.outcome) for v in again.visits] == [(1, "rejected"), (2, "approved")]
    assert again.standing == "done"


def test_a_cancel_stage_of_named_evidences_holds_only_when_nobody_could_do_it():
    j = journey("""
stages:
  - id: tools
    evidence:
      any:
        - {name: calendar, event: calendar_integrated}
        - {name: notes, event: notes_integrated}
    due: {after: entered, duration: 2d}
    on_missed: cancel
""")
    stage = j.stages[0]
    cal, notes = (unit_key(p.evidence) for p in stage.evidence.parts)
    assert not unseeable(stage, frozenset({cal})) and unseeable(stage, frozenset({cal, notes}))
    held = walk(j, Facts(t(1)), t(5), Settings(SET.deadline_at, SET.reminder_window_start, UTC,
                                                never_seen=frozenset({cal, notes})))
    assert held.standing == "overdue" and "cancellation" not in [e.kind for e in held.emails]
    cancelled = walk(j, Facts(t(1)), t(5), Settings(SET.deadline_at, SET.reminder_window_start, UTC,
                                                     never_seen=frozenset({cal})))
    assert cancelled.standing == "cancelled"


# --- optional stages ---------------------------------------------------------------------------

OPTIONAL = journey("""
stages:
  - id: explore
    title: Explore the product
    optional: true
    emails_on_enter: [explore_tips]
    evidence: {event: product_explored}
    due: {after: entered, duration: 4d}
    reminders: [2d]
  - id: golive
    emails_on_enter: [golive_checklist]
    evidence: {event: went_live}
    due: {after: entered, duration: 3d}
    on_missed: cancel
""")


def test_an_optional_stage_is_offered_then_skipped_without_penalty_and_the_walk_goes_on():
    facts = Facts(t(1))
    open_ = walk(OPTIONAL, facts, t(3, 12), SET)  # entered 1 Nov 10:00, due 5 Nov 10:00, reminded from 3 Nov
    assert (open_.standing, open_.stage) == ("in_stage", "explore")
    assert kinds(open_) == [("explore", "explore_tips", 1), ("explore", "reminder_1", 1)]
    skipped = walk(OPTIONAL, facts, t(5, 12), SET)
    assert [(v.stage, v.outcome, v.entered_at) for v in skipped.visits] == [
        ("explore", "skipped", t(1)), ("golive", "in_progress", t(5))]
    # Once skipped, nothing of the stage is called for any more (no reminder after due, no cancel).
    assert kinds(skipped) == [("golive", "golive_checklist", 1)]
    done = walk(OPTIONAL, Facts(t(1), ev(product_explored=[t(2)])), t(4, 12), SET)
    assert [(v.stage, v.outcome) for v in done.visits] == [("explore", "completed"), ("golive", "in_progress")]
    assert done.visits[1].entered_at == t(2)
    # The stage after it still cancels: the optional one never does.
    gone = walk(OPTIONAL, facts, t(9), SET)
    assert gone.standing == "cancelled" and {e.stage for e in gone.emails if e.kind == "cancellation"} == {"golive"}


def test_an_optional_step_done_late_stays_skipped_whichever_night_its_row_arrives():
    """A second scenario: the exploration row comes after the due time, seen the night after or
    weeks later with everything else at once: skipped all the same, and the walk went on at due."""
    facts = Facts(t(1), ev(product_explored=[t(6)], went_live=[t(7)]))
    for night in (t(6, 20), t(20)):
        out = walk(OPTIONAL, facts, night, SET)
        assert [(v.stage, v.outcome) for v in out.visits][0] == ("explore", "skipped")
        assert out.visits[1].entered_at == t(5)
    assert walk(OPTIONAL, facts, t(20), SET).standing == "done"
    last = journey("""
stages:
  - id: explore
    optional: true
    evidence: {event: product_explored}
    due: {after: signup, duration: 2d}
""")
    assert walk(last, Facts(t(1)), t(4), SET).standing == "done"  # an optional last stage skipped: done


def test_the_sample_steps_12_to_14_as_configured():
    """Step 12 then 13 (any of the five tools) then 14 (optional), in the sample journey."""
    stage = SAAS.stage("integrations")
    assert stage.evidence.need == "any" and tuple(p.name for p in stage.evidence.parts) == TOOLS
    explore = SAAS.stage("exploration")
    assert explore.optional and explore.emails_on_enter == ("exploration_tips",) and explore.on_missed == "nothing"
    rows = dict(email_verified=[t(1, 11)], details_submitted=[t(1, 12)], initial_quiz_completed=[(t(2), 95.0)],
                profile_completed=[t(3)], calendar_integrated=[t(4)], social_integrated=[t(5)])
    facts = Facts(t(1), ev(**rows), (Approval("details", "approved", t(1, 13), "lena"),), csm_assigned_at=t(1, 14))
    out = walk(SAAS, facts, t(6), SET)
    visits = {v.stage: v for v in out.visits}
    assert visits["integrations"].evidence_done == ("calendar", "social")
    assert (out.stage, visits["exploration"].outcome) == ("exploration", "in_progress")
    assert ("exploration", "exploration_tips", 1) in kinds(out)
    entered = visits["exploration"].entered_at
    after = walk(SAAS, facts, entered + dt.timedelta(days=15), SET)
    assert {v.stage: v.outcome for v in after.visits}["exploration"] == "skipped"
    assert after.stage == "advanced_training" and not [e for e in after.emails if e.stage == "exploration"]


# --- side by side and join --------------------------------------------------------------------

TOGETHER = journey("""
stages:
  - id: setup
    title: Set up your account
    together:
      - id: profile
        emails_on_enter: [profile_invite]
        evidence: {event: profile_completed}
        due: {after: entered, duration: 7d}
        reminders: [3d]
        approval: {by: instructor}
        next: [{if: rejected, to: profile}]
      - id: tools
        emails_on_enter: [tools_invite]
        evidence:
          any:
            - {name: calendar, event: calendar_integrated}
            - {name: notes, event: notes_integrated}
        due: {after: entered, duration: 5d}
        on_missed: cancel
  - id: explore
    emails_on_enter: [explore_tips]
    evidence: {event: product_explored}
""")


def test_members_are_entered_at_once_and_the_journey_goes_on_when_all_are_done():
    rows = ev(profile_completed=[t(2)], notes_integrated=[t(3)])
    waiting = walk(TOGETHER, Facts(t(1), rows), t(3, 12), SET)
    # The profile waits on its approver; the tools went on regardless (done on 3 Nov).
    assert (waiting.stage, waiting.standing, waiting.waits_on) == ("setup", "awaiting_approval", "instructor")
    assert [(v.stage, v.entered_at, v.outcome) for v in waiting.visits] == [
        ("profile", t(1), "awaiting_approval"), ("tools", t(1), "completed")]
    assert kinds(waiting) == [("profile", "profile_invite", 1), ("tools", "tools_invite", 1)]
    joined = walk(TOGETHER, Facts(t(1), rows, (Approval("profile", "approved", t(4), "lena"),)), t(5), SET)
    assert [(v.stage, v.outcome) for v in joined.visits] == [
        ("profile", "approved"), ("tools", "completed"), ("explore", "in_progress")]
    assert joined.visits[-1].entered_at == t(4)  # the join: when the last member was done (the approval)
    assert (joined.stage, joined.standing) == ("explore", "in_stage")
    # The approval request names the member waiting, whatever the other member does.
    from onboarding.decisions.approvals import requests

    (req,) = requests(TOGETHER, "c1", {"ann@x.org": ("Ann", waiting)}, UTC)
    assert req.stage == "profile" and [w.email for w in req.people] == ["ann@x.org"]


def test_a_members_cancel_cancels_and_a_rejected_member_tries_again_alone():
    """A second scenario: the tools never connected (cancel at 6 Nov) while the profile was fine;
    then, another customer, the profile rejected and sent again while the tools were done long ago."""
    gone = walk(TOGETHER, Facts(t(1), ev(profile_completed=[t(2)]), (Approval("profile", "approved", t(2, 12), "x"),)),
                t(7), SET)
    assert gone.standing == "cancelled" and gone.stage is None
    assert [(e.stage, e.kind) for e in gone.emails if e.kind == "cancellation"] == [("tools", "cancellation")]
    rows = ev(profile_completed=[t(2), t(5)], calendar_integrated=[t(1, 12)])
    decided = (Approval("profile", "rejected", t(3), "lena", "no photo"), Approval("profile", "approved", t(6), "lena"))
    retry = walk(TOGETHER, Facts(t(1), rows, decided), t(5, 12), SET)
    assert [(v.stage, v.number, v.outcome) for v in retry.visits] == [
        ("profile", 1, "rejected"), ("profile", 2, "awaiting_approval"), ("tools", 1, "completed")]
    assert ("profile", "profile_invite", 2) in kinds(retry) and retry.stage == "setup"
    done = walk(TOGETHER, Facts(t(1), rows, decided), t(7), SET)
    assert done.stage == "explore" and done.visits[-1].entered_at == t(6)
    # The same rows in another order, and all at once: the same walk.
    shuffled = {k: tuple(reversed(v)) for k, v in rows.items()}
    assert walk(TOGETHER, Facts(t(1), shuffled, tuple(reversed(decided))), t(7), SET) == done


def test_an_optional_member_skipped_waits_at_the_join():
    j = journey("""
stages:
  - id: both
    together:
      - id: a
        evidence: {event: a_done}
      - id: b
        optional: true
        evidence: {event: b_done}
        due: {after: entered, duration: 3d}
  - id: next_one
    evidence: {event: n}
""")
    out = walk(j, Facts(t(1), ev(a_done=[t(2)])), t(5), SET)
    assert [(v.stage, v.outcome) for v in out.visits] == [("a", "completed"), ("b", "skipped"), ("next_one", "in_progress")]
    assert out.visits[-1].entered_at == t(4)  # the join: b's due time, the later of the two


@pytest.mark.parametrize("body, says", [
    ("    together: [{id: p, evidence: {event: p}, next: z}, {id: q, evidence: {event: q}}]",
     "stage 'setup': stage 'p': next[0]: a member of 'setup' goes on with its group"),
    ("    due: {after: entered, duration: 3d}\n    together: [{id: p, evidence: {event: p}}, {id: q, evidence: {event: q}}]",
     "stage 'setup': due: a 'together' stage is done when all its members are"),
    ("    evidence: {event: x}\n    together: [{id: p, evidence: {event: p}}, {id: q, evidence: {event: q}}]",
     "stage 'setup': evidence: a 'together' stage is done when all its members are"),
    ("    together: [{id: p, evidence: {event: p}}]", "stage 'setup': together: expected a list of at least two member stages"),
    ("    together: [{id: p}, {id: q, evidence: {event: q}}]", "stage 'setup': stage 'p': 'evidence' is required"),
    ("    together: [{id: p, evidence: {event: p}}, {id: z, evidence: {event: q}}]", "stage 'z': id: appears twice"),
    ("    together: [{id: p, evidence: {event: p}}, {id: q, together: [{id: r, evidence: {event: r}}, "
     "{id: s, evidence: {event: s}}]}]", "together: member 'q' is itself a 'together' stage"),
    ("    together: [{id: p, evidence: {entered: true}, assign_csm: true}, {id: q, evidence: {event: q}}]",
     "stage 'setup': stage 'p': assign_csm: a CSM is placed in a stage of its own"),
])
def test_the_checker_refuses_a_bad_together_stage(body, says):
    text = f"stages:\n  - id: setup\n{body}\n  - id: z\n    evidence: {{event: done}}\n"
    message = refused(text)
    assert message.startswith("journeys.yaml: journey 'j'") and says in message, message


@pytest.mark.parametrize("member", ["../../etc/passwd", "<b>x</b>", "=cmd|' /C calc'!A0", "end", "a\u202eb", "Profile"])
def test_hostile_member_ids_are_refused_naming_the_group(member):
    text = yaml.safe_dump({"stages": [{"id": "setup", "together": [{"id": member, "evidence": {"event": "p"}},
                                                                    {"id": "q", "evidence": {"event": "q"}}]}]})
    message = refused(text)
    assert message.startswith("journeys.yaml: journey 'j': stage 'setup': together[0]: id:"), message


def test_a_second_try_back_to_a_together_stage_is_refused_and_members_cannot_be_led_to():
    back = refused("""
stages:
  - id: setup
    together: [{id: p, evidence: {event: p}}, {id: q, evidence: {event: q}}]
  - id: check
    evidence: {event: c}
    approval: {by: instructor}
    next: [{if: approved, to: end}, {if: rejected, to: setup}]
""")
    assert "stage 'check': next: 'setup' runs its members side by side once" in back
    into = refused("""
stages:
  - id: first
    evidence: {event: f}
    next: q
  - id: setup
    together: [{id: p, evidence: {event: p}}, {id: q, evidence: {event: q}}]
""")
    assert "stage 'first': next[0]: to: unknown stage 'q'" in into


# --- the checker -------------------------------------------------------------------------------

def refused(text: str) -> str:
    doc = {"journeys": {"j": yaml.safe_load(text)}}
    with pytest.raises(ConfigError) as exc:
        journeys_from(doc, Path("journeys.yaml"))
    return str(exc.value)


STAGE = """
stages:
  - id: explore
{body}
  - id: after
    evidence: {{event: done}}
"""


@pytest.mark.parametrize("body, says", [
    ("    optional: true\n    evidence: {event: e}",
     "stage 'explore': optional: an optional stage needs 'due'"),
    ("    optional: true\n    evidence: {event: e}\n    due: {after: entered, duration: 3d}\n    on_missed: cancel",
     "stage 'explore': on_missed: 'cancel' contradicts 'optional: true'"),
    ("    optional: true\n    evidence: {event: e}\n    due: {after: entered, duration: 3d}\n    on_missed: {escalate: instructor}",
     "stage 'explore': on_missed: 'escalate: instructor' contradicts 'optional: true'"),
    ("    optional: true\n    evidence: {entered: true}\n    due: {after: entered, duration: 3d}",
     "stage 'explore': optional: a stage done on entering (entered: true) cannot be skipped"),
    ("    optional: true\n    evidence: {event: e}\n    due: {after: entered, duration: 3d}\n    approval: {by: instructor}\n"
     "    next: [{if: approved, to: after}, {if: rejected, to: end}]",
     "stage 'explore': next: an optional stage needs a branch without 'if'"),
    ("    optional: yes please\n    evidence: {event: e}", "stage 'explore': optional:"),
    ("    evidence: {any: [{name: calendar, event: c}]}", "stage 'explore': evidence: any: expected a list of at least two"),
    ("    evidence: {all: [{name: a, event: c}, {name: a, event: d}]}", "name 'a' appears twice"),
    ("    evidence: {all: [{name: a, event: c, column: x}, {name: b, event: d}]}", "a: name exactly one of 'column' or 'event'"),
    ("    evidence: {all: [{name: a, event: c}, {name: b, event: d}], score: {pass_mark: 5}}",
     "score: give it on each named evidence of 'all'"),
    ("    evidence: {all: [{name: a, event: c}, {name: b, event: d}], event: e}",
     "name exactly one of 'column', 'event', 'entered', 'all' or 'any' (got ['event', 'all'])"),
    ("    evidence: {any: [{name: a, event: c}, {name: b, event: d}]}\n    next: [{if: passed, to: after}]",
     "if: 'passed' needs the stage's evidence to have a 'score'"),
    ("    evidence: {any: [{name: a, event: c}, {name: b, event: d}]}\n    approval: {by: instructor, auto_if_score_at_least: 5}",
     "approval: auto_if_score_at_least: the stage's evidence has no score"),
    ("    evidence: {any: [{name: a, evnt: c}, {name: b, event: d}]}", "unknown key(s) ['evnt']"),
])
def test_the_checker_refuses_contradictions_naming_file_journey_stage_and_key(body, says):
    message = refused(STAGE.format(body=body))
    assert message.startswith("journeys.yaml: journey 'j'") and says in message, message


@pytest.mark.parametrize("name", ["../../etc/passwd", "<b>x</b>", "=HYPERLINK(\"http://evil\")", "a\u0000b", "tab\there",
                                  "=?utf-8?q?=E2=80=AE?=", "Calendar", "[x](javascript:alert(1))", "", "a" * 64, 7, True])
def test_hostile_names_in_the_new_keys_are_refused(name):
    """A named evidence's name is shown on the customer's page and in the checker's words: only
    lower-case letters, digits, '-' and '_'; anything else is refused with where it was."""
    text = yaml.safe_dump({"stages": [{"id": "s", "evidence": {"any": [{"name": name, "event": "e"},
                                                                       {"name": "ok", "event": "f"}]}}]})
    message = refused(text)
    assert "journey 'j'" in message and "stage 's'" in message and "name" in message, message


def test_hostile_event_names_of_named_evidences_are_read_as_text_only():
    """An event name is matched, never run or shown unescaped: a formula or markup as a name is
    kept as the text it is (the events export's own validation refuses such rows)."""
    j = journey("""
stages:
  - id: s
    evidence:
      any:
        - {name: a, event: "=HYPERLINK(\\"http://evil\\")"}
        - {name: b, event: "<script>x</script>"}
""")
    assert [u.event_name for u in j.stages[0].evidence.units()] == ['=hyperlink("http://evil")', "<script>x</script>"]
    out = walk(j, Facts(t(1), {unit_key(j.stages[0].evidence.parts[1].evidence): (Attempt(t(2)),)}), t(3), SET)
    assert out.visits[0].evidence_done == ("b",)


def test_the_checker_describes_the_new_shapes_in_words(capsys):
    from onboarding.ops.journeys import main

    assert main(["check", str(ROOT / "config" / "journeys.yaml")]) == 0
    out = capsys.readouterr().out
    assert ("integrations: done when any one of 5 named evidences is done (each customer's count is kept: "
            "calendar = event 'calendar_integrated' in events") in out
    assert "exploration: optional (skipped, without penalty, when due passes undone)" in out
    assert "skipped: on to advanced_training" in out


# --- the sample's steps 12-14 through the real DAG ---------------------------------------------

COHORTS = "journeys: journeys.yaml\ncohorts:" + events_cohort(
    "steps-2026-11", "Steps 12-14, November 2026", "steps", "Northwind Onboarding <onboarding@northwind.example>")
SIGNUPS = """Email,Name,Created
ann@x.org,Ann Alder,2026-11-20 09:00
bob@x.org,Bob Birch,2026-11-20 09:00
cai@x.org,Cai Cole,2026-11-20 09:00
dee@x.org,Dee Dunn,2026-11-20 09:00
"""
# Ann did steps 12-14 (two tools); Bob connected his calendar two days ago; Cai connected one tool
# and never explores (skipped on 5 Dec); Dee set up her profile only. Rows in no particular order.
EVENTS = """Email,Event,At
ann@x.org,notes_integrated,2026-11-23 10:00
ann@x.org,profile_completed,2026-11-21 10:00
ann@x.org,calendar_integrated,2026-11-22 10:00
ann@x.org,product_explored,2026-11-24 10:00
bob@x.org,profile_completed,2026-11-25 10:00
bob@x.org,calendar_integrated,2026-11-26 10:00
cai@x.org,social_integrated,2026-11-21 11:00
cai@x.org,profile_completed,2026-11-21 10:00
dee@x.org,profile_completed,2026-11-21 10:00
"""


def _steps_journey() -> str:
    """The sample journey's steps 12-14 exactly as config/journeys.yaml writes them (its roster for
    the CSM escalations, its teams for the stages' owners), then a last step of go-live."""
    raw = yaml.safe_load((ROOT / "config" / "journeys.yaml").read_text())["journeys"]["saas-onboarding"]
    stages = [s for s in raw["stages"] if s["id"] in ("setup", "exploration")]  # setup: steps 12 and 13
    stages[-1] = {**stages[-1], "next": "golive"}
    stages.append({"id": "golive", "title": "Go live", "evidence": {"event": "went_live"}})
    # Its teams too: the stages name their owners (Support owns steps 12-14).
    return yaml.safe_dump({"journeys": {"steps": {"title": "Steps 12-14", "csms": raw["csms"], "teams": raw["teams"],
                                                  "stages": stages}}})


@pytest.mark.dagrun
def test_the_sample_steps_12_to_14_act_through_the_dag(airflow_db, airflow_env, fake_google, monkeypatch, tmp_path):
    from test_journey_dag import rows, run_night
    from airflow.dag_processing.dagbag import DagBag

    for name, text in {"cohorts.yaml": COHORTS, "journeys.yaml": _steps_journey(), "signups.csv": SIGNUPS,
                       "events.csv": EVENTS}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(tmp_path / "cohorts.yaml"))
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    runs = {}
    for night in (dt.date(2026, 11, 28), dt.date(2026, 11, 30), dt.date(2026, 12, 6)):
        state, runs[night] = run_night(dag, night, cohort="steps-2026-11")
        assert state == "success", night

    def sent(kind):
        return sorted((r["recipient"], r["decided_run_id"]) for r in rows(
            "SELECT recipient, decided_run_id FROM email_ledger WHERE cohort_id = 'steps-2026-11' AND kind = :k "
            "AND status = 'sent'", k=kind))

    def visits(night):
        return {(r["email"], r["stage"]): r for r in rows(
            "SELECT email, stage, outcome, evidence_done, evidence_of, stage_order FROM journey_visits "
            "WHERE run_id = :r", r=runs[night])}

    first = visits(dt.date(2026, 11, 28))
    # Step 13, any of five tools: done at the first, the count of each kept ("2 of 5").
    assert {e: (first[(e, "integrations")]["outcome"], first[(e, "integrations")]["evidence_done"])
            for e in ("ann@x.org", "bob@x.org", "cai@x.org")} == {
        "ann@x.org": ("completed", "calendar, notes"), "bob@x.org": ("completed", "calendar"),
        "cai@x.org": ("completed", "social")}
    assert first[("dee@x.org", "integrations")]["evidence_done"] == "" and \
        {r["evidence_of"] for k, r in first.items() if k[1] == "integrations"} == {5}
    assert first[("ann@x.org", "profile")]["evidence_of"] is None  # a stage of one evidence: no count
    # Step 14, optional: Bob entered it two days ago and gets its tips; Ann explored already.
    assert sent("exploration:exploration_tips") == [("bob@x.org", runs[dt.date(2026, 11, 28)])]
    # Cai is reminded a week before it is due (28 Nov), then skipped on 5 Dec without penalty;
    # Bob, in it since 26 Nov, is reminded on 3 Dec (the night of 6 Dec sends it).
    assert sent("exploration:reminder_1") == [("bob@x.org", runs[dt.date(2026, 12, 6)]),
                                              ("cai@x.org", runs[dt.date(2026, 11, 30)])]
    last = visits(dt.date(2026, 12, 6))
    assert last[("cai@x.org", "exploration")]["outcome"] == "skipped"
    assert last[("cai@x.org", "golive")]["outcome"] == "in_progress"
    assert last[("ann@x.org", "exploration")]["outcome"] == "completed"
    status = {r["email"]: r["status"] for r in rows("SELECT email, status FROM customer_status WHERE run_id = :r",
                                                     r=runs[dt.date(2026, 12, 6)])}
    assert status["cai@x.org"] == "golive: in_stage" and status["bob@x.org"] == "exploration: in_stage"
    assert not rows("SELECT recipient FROM email_ledger WHERE cohort_id = 'steps-2026-11' AND kind LIKE '%cancellation'")
    # The analytics: Cai's skipped step is 'skipped' (not 'open'), so the funnel does not count her
    # as still in the stage; Bob is.
    assert rows("SELECT outcome FROM v_stage_events WHERE cohort_id = 'steps-2026-11' AND email = 'cai@x.org' "
                "AND stage = 'exploration'") == [{"outcome": "skipped"}]
    (funnel,) = rows("SELECT entered, completed, dropped, still_open FROM v_stage_funnel "
                     "WHERE cohort_id = 'steps-2026-11' AND stage = 'exploration'")
    assert funnel == {"entered": 3, "completed": 1, "dropped": 0, "still_open": 1}
    # The customer's page shows her count of tools, night by night, once per change.
    import ui_client

    api, viewer = ui_client.client(), ui_client.bearer(ui_client.token("instructor"))
    page = api.get("/onboarding/api/cohorts/steps-2026-11/customers/ann@x.org", headers=viewer).json()
    lines = [x["text"] for x in page["timeline"] if "Connect your tools" in x["text"]]
    assert lines == ["Connect your tools: 2 of 5 done (calendar, notes)"], lines
    html = api.get("/onboarding/cohorts/steps-2026-11/customers/ann@x.org",
                   headers={**viewer, "accept": "text/html"}).text
    assert "Connect your tools: 2 of 5 done (calendar, notes)" in html


def test_a_member_that_ends_the_journey_stops_the_others_emails_at_that_moment():
    """A third shape of ending: one member cancelled on its due day while the other still had a
    reminder ahead. The reminder due after the cancellation is never called for, the other member
    stands as it stood at the cancellation, and the cancelling member is the last visit."""
    j = journey("""
stages:
  - id: both
    together:
      - id: verify
        evidence: {event: verified}
        due: {after: entered, duration: 2d}
        on_missed: cancel
      - id: docs
        emails_on_enter: [docs_invite]
        evidence: {event: docs_sent}
        due: {after: entered, duration: 9d}
        reminders: [5d, 1d]
""")
    gone = walk(j, Facts(t(1)), t(12), SET)
    assert gone.standing == "cancelled" and gone.stage is None
    assert gone.visits[-1].stage == "verify" and gone.visits[-1].outcome == "missed"
    cancelled_at = next(e.at for e in gone.emails if e.kind == "cancellation")
    assert cancelled_at == t(3)
    # The invite went on entering; the reminders (5d and 1d before 10 Nov) fall after 3 Nov: none.
    assert [(e.stage, e.kind) for e in gone.emails] == [("docs", "docs_invite"), ("verify", "cancellation")]
    assert all(e.at <= cancelled_at for e in gone.emails)
    # Before the cancellation, nothing of it: the other member is simply in its stage.
    before = walk(j, Facts(t(1)), t(2), SET)
    assert before.standing == "in_stage" and before.stage == "both"

