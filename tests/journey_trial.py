"""A small journey cohort written into a folder for the tests of what a journey may read beside
the events export: a stage done by a column of a wide ``completions`` export, the CSM roster from a
``csms`` export (``csms: per_cohort``), and customers matched to CSMs by the language the signup
export gives, and its queries from a support export (one row per ticket). Hostile cells in each:
an impossible date, a capacity that is not a number, a CSM listed twice, a ticket answered before
it was asked, one never asked."""
from __future__ import annotations

from pathlib import Path

JOURNEYS = """
journeys:
  trial:
    title: Trial accounts
    csms: per_cohort
    csm_match: [language]
    queries: {asked: query_asked, answered: query_answered, escalate_after: 2d}
    stages:
      - id: verification
        emails_on_enter: [verification]
        evidence: {column: verified_at}
        due: {after: entered, duration: 3d}
        reminders: [1d]
        on_missed: cancel
      - id: csm
        evidence: {entered: true}
        assign_csm: true
        emails_on_enter: [csm_introduction]
      - id: first_project
        evidence: {column: project_created_at}
        due: {after: entered, duration: 7d}
        on_missed: {escalate: csm}
      - id: training
        emails_on_enter: [training_enrolment]
        evidence: {event: quiz_completed, score: {pass_mark: 70}}
        due: {after: entered, duration: 7d}
        approval: {by: csm, auto_if_score_at_least: 85}
        next: [{if: approved, to: end}, {if: rejected, to: training}]
"""

COHORTS = """
journeys: journeys.yaml
cohorts:
  - id: trial-2026-11
    title: Trial accounts, November 2026
    journey: trial
    deadline: 2026-12-31
    timezone: Europe/London
    sender: "Trials <trials@example.com>"
    instructor: lead@example.com
    guards: {max_source_age: null, max_completion_shrink: null}
    sources:
      signups: {type: csv, path: signups.csv, columns: {email: Email, name: Name, signed_up_at: Created, language: Language}}
      completions: {type: csv, path: progress.csv, columns: {email: Email, verified_at: Verified, project_created_at: First project}}
      events: {type: csv, path: events.csv, columns: {email: Email, event: Event, at: At, value: Score}}
      csms: {type: csv, path: csms.csv, columns: {email: Email, name: Name, capacity: Capacity, language: Language}}
      queries: {type: csv, path: tickets.csv, columns: {email: Customer, asked_at: Opened, answered_at: Closed, link: Ticket}}
"""

SIGNUPS = """Email,Name,Created,Language
ann@x.org,Ann Alder,2026-11-20 09:00,de
bob@x.org,Bob Birch,2026-11-20 09:00,en
cai@x.org,Cai Cole,2026-11-20 09:30,EN
dee@x.org,Dee Dunn,2026-11-26 09:00,en
eve@x.org,Eve Elm,2026-11-27 09:00,
"""

PROGRESS = """Email,Verified,First project
ann@x.org,2026-11-21 10:00,2026-11-25 12:00
bob@x.org,2026-11-21 11:00,
cai@x.org,2026-11-22 08:00,
dee@x.org,2026-02-30 10:00,
"""

EVENTS = """Email,Event,At,Score
ann@x.org,quiz_completed,2026-11-27 15:00,91
"""

CSMS = """Email,Name,Capacity,Language
priya@example.com,Priya Raman,1,en
jonas@example.com,Jonas Weber,5,DE
mia@example.com,Mia Chen,lots,en
priya@example.com,Priya Again,3,en
"""


TICKETS = """Customer,Opened,Closed,Ticket
ann@x.org,2026-11-27 10:00,,https://support.example.com/t/1
bob@x.org,2026-11-24 10:00,,https://support.example.com/t/2
bob@x.org,2026-11-24 11:00,2026-11-25 09:00,https://support.example.com/t/3
eve@x.org,2026-11-27 12:00,2026-11-26 12:00,https://support.example.com/t/4
cai@x.org,,2026-11-26 12:00,
"""


def write(folder: Path, **replace: str) -> Path:
    """The trial cohort's files in ``folder`` (any file's text replaced by name); the cohort file's path."""
    files = {"journeys.yaml": JOURNEYS, "cohorts.yaml": COHORTS, "signups.csv": SIGNUPS, "progress.csv": PROGRESS,
             "events.csv": EVENTS, "csms.csv": CSMS, "tickets.csv": TICKETS}
    for name, text in {**files, **{k.replace("_", "."): v for k, v in replace.items()}}.items():
        (folder / name).write_text(text)
    return folder / "cohorts.yaml"
