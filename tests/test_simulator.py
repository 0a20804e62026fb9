"""The journey simulator (issue 25, second point): what it prints for a customer is what the
nightly runs then do to her. Real nights (every stage, through ``dag.test()`` once and through
the pipeline's stages otherwise) on the same events are compared with the simulator's nights:
each night's standing and the emails it sends, by night."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from helpers import run_stages, world_clock

ROOT = Path(__file__).resolve().parents[1]
SYDNEY, RUN_TIME = "Australia/Sydney", dt.time(6)
LONDON = ZoneInfo("Europe/London")
HEADER = ["User Email", "Event", "Occurred At", "Score", "Link"]


def cohort_file(folder: Path, signups: list[list[str]], events: list[list[str]]) -> Path:
    """A journey cohort of the sample's journey (config/journeys.yaml) reading the two exports written here."""
    with open(folder / "signups.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["Created", "Name", "Email", "Marketing OK", "Language"], *signups])
    with open(folder / "events.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *events])
    doc = {"journeys": str(ROOT / "config" / "journeys.yaml"), "cohorts": [{
        "id": "sim-1", "title": "Simulated", "journey": "saas-onboarding", "deadline": "2026-12-31",
        "timezone": "Europe/London", "sender": "Onboarding <onboarding@northwind.example>",
        "instructor": "lead@northwind.example", "email_connection": "onboarding_email",
        "guards": {"max_source_age": None, "max_completion_shrink": None, "max_cancel_share": None},
        "email_classes": {k: "transactional" for k in ("verification", "details_form", "csm_introduction",
                                                       "training_enrolment", "advanced_offer", "advanced_certificate")},
        "sources": {
            "signups": {"type": "csv", "path": str(folder / "signups.csv"),
                        "columns": {"email": "Email", "name": "Name", "signed_up_at": "Created",
                                    "consent": "Marketing OK", "language": "Language"}},
            "events": {"type": "csv", "path": str(folder / "events.csv"),
                       "columns": {"email": "User Email", "event": "Event", "at": "Occurred At", "value": "Score",
                                   "link": "Link"}}}}]}
    path = folder / "cohorts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def her_file(folder: Path, email: str, events: list[list[str]], extra: list[list[str]] = ()) -> Path:
    """Her rows of the export (and the approver's answers, as the simulator reads them) in a file of her own."""
    path = folder / f"{email.split('@')[0]}-events.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *[r for r in events if r[0] == email], *extra])
    return path


def simulated(cohorts: Path, events: Path, signed: str, first: dt.date, last: dt.date, approvals: str = "file"):
    """The simulator's nights, through its command's own pieces, as (moment, status, sent kinds)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline.simulate import read_events_file, simulate_file

    cohort = read_cohort_file(cohorts).cohorts["sim-1"]
    journey = cohort.journey_spec
    customer = read_events_file(events, cohort, journey)
    signed_at = dt.datetime.fromisoformat(signed).replace(tzinfo=LONDON).astimezone(dt.timezone.utc)
    nights = simulate_file(cohort, journey, customer, signed_at, first, last, SYDNEY, RUN_TIME,
                           "approve" if approvals == "approve" else None, attributes={"language": "en"})
    # A night before her signup knows nothing of her (the real run has no line for her either).
    return [(n.moment, f"{n.stage}: {n.standing}" if n.stage else n.standing, sorted(n.sent)) for n in nights
            if n.standing != "not_signed_up"]


def real(store, email: str, cohort_id: str = "sim-1"):
    """What the nightly runs did to her, as (moment, status, kinds sent by that night's run)."""
    from onboarding.times import from_iso

    h = store.analytics.customer(cohort_id, email)
    sent: dict[str, list[str]] = {}
    for e in h["emails"]:
        if e["status"] == "sent":
            sent.setdefault(e["sent_run_id"], []).append(e["kind"])
    return [(from_iso(str(n["as_of"])).astimezone(dt.timezone.utc), n["status"], sorted(sent.get(n["run_id"], [])))
            for n in h["nights"]]


def nights(first: dt.date, last: dt.date) -> list[dt.datetime]:
    from onboarding.decisions.simulate import nightly_moments

    return nightly_moments(first, last, ZoneInfo(SYDNEY), RUN_TIME)


def run_pipeline_nights(engine, tmp_path: Path, cohorts: Path, first: dt.date, last: dt.date, between=None):
    """Every stage of each night's run, without Airflow (emails to an outbox); ``between(i, store)``
    runs after night ``i`` (an approver answering)."""
    from onboarding.cohorts import read_cohort_file
    from onboarding.store import Store

    cohort = read_cohort_file(cohorts).cohorts["sim-1"]
    store = Store(engine)
    for i, moment in enumerate(nights(first, last)):
        with world_clock(moment.isoformat()):
            run_stages(engine, cohort, tmp_path, moment, f"scheduled__{moment.isoformat()}")
        if between:
            between(i, store)
    return store


def test_a_missed_verification_cancels_her_as_the_simulator_said_night_by_night(engine, tmp_path):
    """Ann never verifies: two reminders before the 3-day due time (2 and 1 days before it), then
    the cancellation; Bob verifies (so the export carries the event: nobody is held for a misspelt name)."""
    events = [["bob@x.org", "email_verified", "2026-12-01T09:00:00Z", "", ""]]
    cohorts = cohort_file(tmp_path, [["2026-11-30 20:00", "Ann Lee", "ann@x.org", "no", "en"],
                                     ["2026-11-30 20:00", "Bob Roe", "bob@x.org", "no", "en"]], events)
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 5)
    store = run_pipeline_nights(engine, tmp_path, cohorts, first, last)
    signed = [["ann@x.org", "signed_up", "2026-11-30T20:00:00Z", "", ""]]  # her file's one row: she did nothing
    said = simulated(cohorts, her_file(tmp_path, "ann@x.org", events, signed), "2026-11-30 20:00", first, last)
    did = real(store, "ann@x.org")
    assert said == did
    assert [s for _, s, _ in said] == ["verification: in_stage"] * 3 + ["cancelled"]
    sends = [k for _, _, kinds in said for k in kinds]
    assert sends == ["verification:verification", "verification:reminder_1", "verification:reminder_2",
                     "verification:cancellation"]
    assert said[-1][0] == nights(first, last)[-1]  # cancelled on the last night run


def test_a_rejection_and_second_try_then_a_csm_as_the_simulator_said(engine, tmp_path):
    """Cara verifies and submits; the instructor rejects her details after night 2 and approves
    the second submission after night 4: her form again (its second visit), then her CSM."""
    events = [["cara@x.org", "email_verified", "2026-12-01T08:00:00Z", "", ""],
              ["cara@x.org", "details_submitted", "2026-12-01T10:00:00Z", "", "https://forms.example.com/1"],
              ["cara@x.org", "details_submitted", "2026-12-03T10:00:00Z", "", "https://forms.example.com/2"]]
    cohorts = cohort_file(tmp_path, [["2026-11-30 20:00", "Cara Diaz", "cara@x.org", "no", "en"]], events)
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 7)
    moments = nights(first, last)
    answers = {1: ("rejected", moments[1] + dt.timedelta(hours=2)), 3: ("approved", moments[3] + dt.timedelta(hours=2))}

    def approver(i, store):
        if i in answers:
            decision, at = answers[i]
            store.journeys.record_approvals("sim-1", [{
                "email": "cara@x.org", "stage": "details", "decision": decision, "decided_at": at.isoformat(),
                "decided_by": "lena", "reason": "incomplete" if decision == "rejected" else None}], request=f"r{i}")

    store = run_pipeline_nights(engine, tmp_path, cohorts, first, last, approver)
    extra = [["cara@x.org", f"{d}:details", at.isoformat(), "", ""] for d, at in answers.values()]
    said = simulated(cohorts, her_file(tmp_path, "cara@x.org", events, extra), "2026-11-30 20:00", first, last)
    did = real(store, "cara@x.org")
    assert said == did
    statuses = [s for _, s, _ in said]
    waited = statuses.index("details: awaiting_approval")
    assert "details: in_stage" in statuses[waited:]  # rejected: her details again
    assert statuses[-1] == "initial_training: in_stage", statuses
    sends = [k for _, _, kinds in said for k in kinds]
    assert sends.count("details:details_form") == 2  # the second visit's own email
    assert "csm:csm_introduction" in sends and "initial_training:training_enrolment" in sends
    from onboarding.store import Store

    placed = Store(engine).journeys.csm_assignments("sim-1")
    assert [a["email"] for a in placed] == ["cara@x.org"]


@pytest.mark.dagrun
def test_the_simulator_equals_the_nightly_dag_run_by_dag_test(airflow_db, airflow_env, fake_google, monkeypatch,
                                                             tmp_path):
    """Dan through the real Dag (``dag.test()``, emails through the fake Gmail server): he
    verifies late (after the first reminder) and submits his details, then waits on the instructor."""
    events = [["dan@x.org", "email_verified", "2026-12-02T20:00:00Z", "", ""],
              ["dan@x.org", "details_submitted", "2026-12-03T12:00:00Z", "", "https://forms.example.com/d"],
              ["eve@x.org", "email_verified", "2026-12-01T09:00:00Z", "", ""]]
    folder = tmp_path / "exports"
    folder.mkdir()
    cohorts = cohort_file(folder, [["2026-11-30 20:00", "Dan Ode", "dan@x.org", "no", "en"],
                                   ["2026-11-30 21:00", "Eve Fox", "eve@x.org", "no", "en"]], events)
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cohorts))
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["onboarding_nightly"]
    first, last = dt.date(2026, 12, 1), dt.date(2026, 12, 4)
    for i, moment in enumerate(nights(first, last)):
        asked = moment + dt.timedelta(seconds=i + 1)
        with world_clock(asked.isoformat()):
            dr = dag.test(logical_date=moment, run_after=asked, run_conf={"cohort": "sim-1"})
        assert str(getattr(dr.state, "value", dr.state)) == "success"
    from onboarding.resources import Resources

    did = real(Resources().store(), "dan@x.org")
    said = simulated(cohorts, her_file(folder, "dan@x.org", events), "2026-11-30 20:00", first, last)
    assert said == did
    assert [k for _, _, kinds in said for k in kinds] == [
        "verification:verification", "verification:reminder_1", "details:details_form"]
    assert said[-1][1] == "details: awaiting_approval"
    subjects = [m["subject"] for m in fake_google.sent.values() if "dan@x.org" in m["to"]]
    assert len(subjects) == 3


# --- the simulator's invariants over generated histories (Hypothesis) -------------------------------
def _sample():
    from onboarding.cohorts import read_cohort_file

    cohort = read_cohort_file(ROOT / "config" / "journey-cohorts.yaml").cohorts["saas-2026-11"]
    return cohort, cohort.journey_spec


SIGNED = dt.datetime(2026, 12, 1, 10, tzinfo=dt.timezone.utc)


def test_generated_histories_walk_as_the_engine_walks_and_send_each_email_once():
    """For any history of the sample journey's events and answers: each night's standing is the
    engine's walk of her facts at that moment (her CSM placed when the simulated night placed
    her); every email goes once per visit; a reminder only while she is in its stage, never once
    overdue; a cancellation exactly when the journey is cancelled; nothing after the journey ends."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from onboarding.decisions.journey import Attempt, Facts, Settings, approvals_by_customer, evidence_key, walk
    from onboarding.decisions.simulate import nightly_moments
    from onboarding.pipeline.simulate import CustomerFile, simulate_file
    from onboarding.times import iso

    cohort, journey = _sample()
    names = [s.evidence.event for s in journey.stages if s.evidence.event]
    approving = [s.id for s in journey.stages if s.approval_by]
    hours = st.integers(min_value=1, max_value=24 * 24)
    event = st.tuples(st.sampled_from(names), hours, st.one_of(st.none(), st.integers(0, 100)))
    answer = st.tuples(st.sampled_from(approving), st.sampled_from(["approved", "rejected"]), hours)

    # A diligent start (verified, details in, approved) on some histories, so the later stages are reached.
    diligent = ([("email_verified", 2, None), ("details_submitted", 5, None)], [("details", "approved", 30)])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(event, max_size=8), st.lists(answer, max_size=3), st.booleans())
    def check(rows, answers, keen):
        email = "gen@x.org"
        if keen:
            rows, answers = rows + diligent[0], answers + diligent[1]
        events = tuple(sorted(({"email": email, "event": e, "at": iso(SIGNED + dt.timedelta(hours=h)),
                                "value": None if v is None else float(v), "link": None} for e, h, v in rows),
                              key=lambda r: r["at"]))
        approvals = tuple({"email": email, "stage": s, "decision": d, "decided_at": iso(SIGNED + dt.timedelta(hours=h)),
                           "decided_by": "gen", "reason": None} for s, d, h in answers)
        customer = CustomerFile(email, SIGNED, events, approvals)
        first = dt.date(2026, 12, 2)
        nights = simulate_file(cohort, journey, customer, SIGNED, first, first + dt.timedelta(days=27), SYDNEY,
                               RUN_TIME)
        assert nights and all(not n.ended for n in nights[:-1])
        placed_at = next((n.moment for n in nights if n.csm), None)
        keys = {s.id: evidence_key(s) for s in journey.stages}
        evidence: dict[str, list] = {}
        for r in events:
            for s in journey.stages:
                if s.evidence.event == r["event"]:
                    evidence.setdefault(keys[s.id], []).append(Attempt(dt.datetime.fromisoformat(r["at"]), r["value"]))
        facts = Facts(SIGNED, {k: tuple(v) for k, v in evidence.items()},
                      approvals_by_customer(list(approvals)).get(email, ()), False, placed_at)
        rules = Settings(cohort.deadline_at, cohort.reminder_window_start, cohort.tz)
        sent: list[str] = []
        for n in nights:
            t = walk(journey, facts, n.moment, rules)
            assert (t.stage, t.standing) == (n.stage, n.standing), n
            for kind in n.sent:
                stage, _, own = kind.partition(":")
                if own.startswith("reminder"):
                    # A member's reminder while she is in its side-by-side group (step 12 of 'setup').
                    assert (n.stage, n.standing) == (journey.stage(stage).group or stage, "in_stage"), n
            assert ("cancellation" in " ".join(n.sent)) == (n.standing == "cancelled"), n
            sent += n.sent
        rejected = {s: sum(1 for a in approvals if a["stage"] == s and a["decision"] == "rejected") for s in approving}
        for kind in set(sent):
            stage = kind.partition(":")[0]
            assert sent.count(kind) <= 1 + rejected.get(stage, 0), (kind, sent)
        assert nights_are_nightly(nights, first)
        reached.update(n.stage for n in nights)

    reached: set = set()

    def nights_are_nightly(nights, first):
        return [n.moment for n in nights] == nightly_moments(first, first + dt.timedelta(days=len(nights) - 1),
                                                             ZoneInfo(SYDNEY), RUN_TIME)

    check()
    assert {"verification", "details", "initial_training"} <= reached  # the histories reach past the approval


# --- hostile events files: refused whole, with the file, row and column, exit status 2 ----------------
HOSTILE = {
    "a date that is none": (["her@x.org", "email_verified", "2026-13-45T25:00", "", ""], "Occurred At", "timestamp"),
    "a formula as a score": (["her@x.org", "initial_quiz_completed", "2026-12-02T10:00:00Z", "=1+1", ""],
                             "Score", "not a number"),
    "a formula as an event": (["her@x.org", '=HYPERLINK("http://evil.example","x")', "2026-12-02T10:00:00Z", "", ""],
                              "Event", "not an event name"),
    "a control character": (["her@x.org", "email\x07verified", "2026-12-02T10:00:00Z", "", ""], "Event",
                            "not an event name"),
    "HTML as a link": (["her@x.org", "details_submitted", "2026-12-02T10:00:00Z", "", "<script>alert(1)</script>"],
                       "Link", ""),
    "an encoded word as the address": (["=?utf-8?b?aGVyQHgub3Jn?=", "email_verified", "2026-12-02T10:00:00Z", "", ""],
                                       "User Email", ""),
    "a path as an answer's stage": (["her@x.org", "approved:../../etc/passwd", "2026-12-02T10:00:00Z", "", ""], "Event",
                                    ""),
    "an answer for no stage": (["her@x.org", "approved:nosuch", "2026-12-02T10:00:00Z", "", ""], "Event",
                               "names no stage"),
    "another customer's row": (["him@x.org", "email_verified", "2026-12-02T10:00:00Z", "", ""], "User Email",
                               "another customer"),
}


def _run(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from onboarding.ops.journeys import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


COMMAND = ("simulate", "saas-onboarding", "--cohorts", str(ROOT / "config" / "journey-cohorts.yaml"),
           "--signed-up-at", "2026-12-01T09:00", "--to", "2026-12-05")


@pytest.mark.parametrize("what", list(HOSTILE))
def test_a_hostile_events_file_is_refused_naming_file_row_and_column(tmp_path, what):
    row, column, reason = HOSTILE[what]
    path = tmp_path / "her.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([HEADER, ["her@x.org", "signed_up", "2026-12-01T09:00:00Z", "", ""], row])
    code, out, err = _run(*COMMAND, "--customer-events", str(path))
    assert code == 2 and out == "", (what, out)
    assert str(path) in err and "row 3" in err and f"column '{column}'" in err and reason in err, (what, err)
    assert "\x07" not in err and "<script>" not in err  # the refusal never echoes the hostile cell


def test_a_huge_wrong_or_missing_events_file_is_refused_with_exit_status_2(tmp_path):
    huge = tmp_path / "huge.csv"
    with open(huge, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(30_000):
            w.writerow(["her@x.org", "logged_in", f"2026-12-01T{i % 24:02d}:00:00Z", "", ""])
    code, _, err = _run(*COMMAND, "--customer-events", str(huge))
    assert code == 2 and str(huge) in err and "at most 1,000,000" in err
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Who,What,When\nher@x.org,email_verified,2026-12-01T10:00:00Z\n")
    code, _, err = _run(*COMMAND, "--customer-events", str(wrong))
    assert code == 2 and str(wrong) in err and "row 1" in err and "Who, What, When" in err and "Occurred At" in err
    code, _, err = _run(*COMMAND, "--customer-events", str(tmp_path / "none.csv"))
    assert code == 2 and "no such file" in err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("User Email,Event,Occurred At\nher@x.org,caf\xe9,2026-12-01T10:00:00Z\n".encode("latin-1"))
    code, _, err = _run(*COMMAND, "--customer-events", str(latin))
    assert code == 2 and str(latin) in err and "line 2" in err


def test_the_command_prints_each_night_with_its_moment_in_the_cohorts_zone(tmp_path):
    path = tmp_path / "her.csv"
    path.write_text("email,event,at\nher@x.org,signed_up,2026-12-01T09:00:00Z\n"
                    "her@x.org,email_verified,2026-12-03T10:00:00Z\n")
    code, out, err = _run("simulate", "saas-onboarding", "--cohorts", str(ROOT / "config" / "journey-cohorts.yaml"),
                          "--customer-events", str(path), "--to", "2026-12-06", "--every-night")
    assert code == 0, err
    lines = out.splitlines()
    assert "times in Europe/London" in lines[0] and "06:00 Australia/Sydney" in lines[1]
    nights = [l for l in lines if l[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
    # 06:00 in Sydney is 19:00 the evening before in London (GMT, December).
    assert [l[:21] for l in nights] == ["Tue 01 Dec 2026 19:00", "Wed 02 Dec 2026 19:00", "Thu 03 Dec 2026 19:00",
                                        "Fri 04 Dec 2026 19:00", "Sat 05 Dec 2026 19:00"]
    assert "sends verification:verification" in nights[0] and "sends verification:reminder_1" in nights[1]
    assert "sends details:details_form" in nights[2]


def test_her_page_says_what_the_next_nights_will_do_and_they_do_it(airflow_db, engine, tmp_path, monkeypatch):
    """Fay verified and never sends her details: after two real nights, her page's "what happens
    next" (the state database's facts, read only) lists the details reminders and the escalation
    on their nights; the next real nights then do exactly that."""
    import ui_client
    from onboarding.cohorts import read_cohort_file
    from onboarding.pipeline.simulate import what_next

    events = [["fay@x.org", "email_verified", "2026-12-01T08:00:00Z", "", ""]]
    cohorts = cohort_file(tmp_path, [["2026-11-30 10:00", "Fay Gold", "fay@x.org", "no", "en"]], events)
    store = run_pipeline_nights(engine, tmp_path, cohorts, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    cohort = read_cohort_file(cohorts).cohorts["sim-1"]
    before = engine.connect().execute(__import__("sqlalchemy").text(
        "SELECT (SELECT COUNT(*) FROM email_ledger), (SELECT COUNT(*) FROM decisions), "
        "(SELECT COUNT(*) FROM csm_assignments)")).one()
    predicted = what_next(store, cohort, "Fay@x.org", nights=7)
    after = engine.connect().execute(__import__("sqlalchemy").text(
        "SELECT (SELECT COUNT(*) FROM email_ledger), (SELECT COUNT(*) FROM decisions), "
        "(SELECT COUNT(*) FROM csm_assignments)")).one()
    assert tuple(before) == tuple(after)  # read only
    assert [n.moment for n in predicted] == nights(dt.date(2026, 12, 3), dt.date(2026, 12, 9))
    sends = [k for n in predicted for k in n.sent]
    assert sends == ["details:reminder_1", "details:reminder_2"]
    assert predicted[-1].standing == "overdue" and predicted[-1].waits_on == "instructor"

    monkeypatch.setenv("AIRFLOW_CONN_ONBOARDING_STATE", ui_client.state_connection(engine))
    monkeypatch.setenv("ONBOARDING_COHORTS_FILE", str(cohorts))
    ui, h = ui_client.client(), ui_client.bearer(ui_client.token())
    page = ui.get("/onboarding/cohorts/sim-1/customers/fay@x.org", headers=h)
    assert page.status_code == 200 and "What happens next if nothing changes" in page.text
    assert 'data-sent="details:reminder_1"' in page.text
    api = ui.get("/onboarding/api/cohorts/sim-1/customers/fay@x.org", headers=h).json()["next"]
    assert [k for n in api for k in n["sent"]][:2] == ["details:reminder_1", "details:reminder_2"]

    run_pipeline_nights(engine, tmp_path, cohorts, dt.date(2026, 12, 3), dt.date(2026, 12, 9))
    did = real(store, "fay@x.org")[2:]
    assert [(n.moment, f"{n.stage}: {n.standing}", sorted(n.sent)) for n in predicted] == did


def test_the_managers_page_pastes_what_the_command_prints():
    """docs/journeys/simulator.md shows the sample customer's nights as the command prints them."""
    doc = (ROOT / "docs" / "journeys" / "simulator.md").read_text()
    sample = str(ROOT / "docs" / "journeys" / "sample-customer-events.csv")
    base = ("simulate", "saas-onboarding", "--customer-events", sample, "--cohorts",
            str(ROOT / "config" / "journey-cohorts.yaml"), "--attribute", "language=en")
    for extra in (("--to", "2026-12-31"), ("--approvals", "approve", "--to", "2027-01-15")):
        code, out, err = _run(*base, *extra)
        assert code == 0, err
        assert out.strip() in doc, out


def test_a_draft_journey_is_simulated_with_a_cohorts_settings_before_any_cohort_follows_it(tmp_path):
    """A manager drafting a journey: ``--journeys`` her draft, ``--cohort`` whose settings to borrow."""
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump({"journeys": {"trial": {"title": "Free trial", "stages": [
        {"id": "activate", "title": "Activate", "emails_on_enter": ["welcome_pack"], "evidence": {"event": "activated"},
         "due": {"after": "entered", "duration": "5d"}, "reminders": ["3d"], "on_missed": "cancel"},
        {"id": "invite", "title": "Invite your team", "evidence": {"event": "teammate_invited"},
         "due": {"after": "entered", "duration": "7d"}, "reminders": ["2d"], "on_missed": "nothing"}]}}}))
    path = tmp_path / "her.csv"
    path.write_text("email,event,at\nher@x.org,signed_up,2026-12-01T09:00:00Z\nher@x.org,activated,2026-12-04T09:00:00Z\n"
                    "her@x.org,teammate_invited,2026-12-06T09:00:00Z\n")
    code, out, err = _run("simulate", "trial", "--journeys", str(draft), "--cohorts",
                          str(ROOT / "config" / "journey-cohorts.yaml"), "--cohort", "saas-2026-11",
                          "--customer-events", str(path))
    assert code == 0, err
    # Activate: due 6 Dec 09:00, its reminder 3 days before (3 Dec 09:00: the night of 3 Dec 19:00).
    assert "Tue 01 Dec 2026 19:00  activate: in stage; sends activate:welcome_pack" in out
    assert "Thu 03 Dec 2026 19:00  activate: in stage; sends activate:reminder_1" in out
    assert "Sun 06 Dec 2026 19:00  done" in out and "The journey ends: done." in out
    code, _, err = _run("simulate", "nope", "--journeys", str(draft), "--customer-events", str(path))
    assert code == 2 and "no journey 'nope'" in err and "trial" in err
