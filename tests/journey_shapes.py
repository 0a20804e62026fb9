"""A small journey cohort with the shapes the sample never reaches (issue 22), written into a
folder for the engine's tests: a quiz with a second try on ``failed``, an approval whose
rejection ends the journey, a certificate on completing an approved stage, a stage whose step is
often done before it opens, a CSM placed after the earlier steps were done, and a cancel stage
(``golive``) whose event no export carries. One customer per shape:

- quinn: fails the quiz (50), passes the next day (80): on to the CSM, then go-live;
- rita: her compliance is rejected, and rejection ends the journey: ``rejected``;
- sam: compliance submitted, not yet approved: no certificate yet;
- tia: her verification row's time is unreadable: held, never cancelled;
- uma: booked her kickoff before the stage opened: no "book your kickoff" email;
- vic: did everything early, placed with a CSM tonight: the CSM's introduction and go-live's
  checklist only; go-live's event (``went_live``) is in no export: overdue, held, not cancelled."""
from __future__ import annotations

from pathlib import Path

JOURNEYS = """
journeys:
  shapes:
    title: Merchant onboarding
    csms:
      - {name: Priya Raman, email: priya@example.com, capacity: 50}
    stages:
      - id: verification
        emails_on_enter: [verification]
        evidence: {event: account_verified}
        due: {after: entered, duration: 3d}
        on_missed: cancel
      - id: kickoff
        emails_on_enter: [kickoff_invite]
        evidence: {event: kickoff_booked}
        due: {after: entered, duration: 7d}
      - id: compliance
        evidence: {event: compliance_submitted}
        approval: {by: instructor}
        emails_on_complete: [compliance_cleared]
        next: [{if: approved, to: quiz}, {if: rejected, to: end}]
      - id: quiz
        emails_on_enter: [quiz_invite]
        evidence: {event: quiz_taken, score: {pass_mark: 70}}
        next: [{if: passed, to: csm}, {if: failed, to: quiz}]
      - id: csm
        evidence: {entered: true}
        assign_csm: true
        emails_on_enter: [csm_introduction]
      - id: golive
        emails_on_enter: [golive_checklist]
        evidence: {event: went_live}
        due: {after: signup, duration: 5d}
        on_missed: cancel
"""

COHORTS = """
journeys: journeys.yaml
cohorts:
  - id: shapes-2026-11
    title: Merchants, November 2026
    journey: shapes
    deadline: 2026-12-31
    timezone: Europe/London
    sender: "Merchants <merchants@example.com>"
    instructor: lead@example.com
    guards: {max_source_age: null, max_completion_shrink: null, max_cancel_share: null}
    sources:
      signups: {type: csv, path: signups.csv, columns: {email: Email, name: Name, signed_up_at: Created}}
      events: {type: csv, path: events.csv, columns: {email: Email, event: Event, at: At, value: Score}}
"""

SIGNUPS = """Email,Name,Created
quinn@x.org,Quinn Quay,2026-11-25 09:00
rita@x.org,Rita Reed,2026-11-25 09:00
sam@x.org,Sam Sloe,2026-11-25 09:00
tia@x.org,Tia Teak,2026-11-20 09:00
uma@x.org,Uma Urn,2026-11-26 09:00
vic@x.org,Vic Vane,2026-11-20 09:00
"""

EVENTS = """Email,Event,At,Score
quinn@x.org,account_verified,2026-11-25 10:00,
quinn@x.org,kickoff_booked,2026-11-25 11:00,
quinn@x.org,compliance_submitted,2026-11-25 12:00,
quinn@x.org,quiz_taken,2026-11-25 14:00,50
quinn@x.org,quiz_taken,2026-11-26 10:00,80
rita@x.org,account_verified,2026-11-25 10:00,
rita@x.org,kickoff_booked,2026-11-25 11:00,
rita@x.org,compliance_submitted,2026-11-25 12:00,
sam@x.org,account_verified,2026-11-25 10:00,
sam@x.org,kickoff_booked,2026-11-25 11:00,
sam@x.org,compliance_submitted,2026-11-27 10:00,
tia@x.org,account_verified,2026-02-30 10:00,
uma@x.org,kickoff_booked,2026-11-26 09:30,
uma@x.org,account_verified,2026-11-26 10:00,
vic@x.org,account_verified,2026-11-20 10:00,
vic@x.org,kickoff_booked,2026-11-20 09:30,
vic@x.org,compliance_submitted,2026-11-20 12:00,
vic@x.org,quiz_taken,2026-11-20 13:00,90
"""

# The approver's decisions, recorded before the night (as the approval task records them).
APPROVALS = [
    {"email": "quinn@x.org", "stage": "compliance", "decision": "approved", "decided_at": "2026-11-25T13:00:00+00:00",
     "decided_by": "lena", "reason": ""},
    {"email": "rita@x.org", "stage": "compliance", "decision": "rejected", "decided_at": "2026-11-25T13:00:00+00:00",
     "decided_by": "lena", "reason": "not a registered company"},
    {"email": "vic@x.org", "stage": "compliance", "decision": "approved", "decided_at": "2026-11-21T09:00:00+00:00",
     "decided_by": "lena", "reason": ""},
]


def write(folder: Path, **replace: str) -> Path:
    """The cohort's files in ``folder`` (any file's text replaced by name); the cohort file's path."""
    files = {"journeys.yaml": JOURNEYS, "cohorts.yaml": COHORTS, "signups.csv": SIGNUPS, "events.csv": EVENTS}
    for name, text in {**files, **{k.replace("_", "."): v for k, v in replace.items()}}.items():
        (folder / name).write_text(text)
    return folder / "cohorts.yaml"
