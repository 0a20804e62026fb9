"""A small journey cohort whose journey file changes between two nights (the effect of a change,
docs/journeys/map.md), and a second journey of another shape than the sample's, for the map.

Cohort ``mini-2026-11`` (journey ``mini``: verification, then details). Four customers sign up on
20 November; night 1 (23 Nov, 06:00 London) walks version ``2026-11 v1``; the journey file is
then changed (details due in 10 days, not 7; label ``2026-11 v2``) and night 2 (26 Nov) walks
it. Ann and Bob verified before night 1 (they entered details under v1), Cai and Dee after it
(under v2); Ann submitted her details on the 24th. Every customer entered verification on the
20th: under v1.
"""
from __future__ import annotations

from pathlib import Path

from helpers import events_cohort

JOURNEY = """
journeys:
  mini:
    title: Mini onboarding
    version: "{version}"
    stages:
      - id: verification
        title: Verify your address
        emails_on_enter: [verification]
        evidence: {{event: email_verified}}
        due: {{after: entered, duration: 5d}}
        on_missed: cancel
      - id: details
        title: Tell us about your team
        emails_on_enter: [details_form]
        evidence: {{event: details_submitted}}
        due: {{after: entered, duration: {days}d}}
"""

COHORTS = "journeys: journeys.yaml\ncohorts:" + events_cohort(
    "mini-2026-11", "Mini accounts, November 2026", "mini", "Mini <mini@example.com>")

SIGNUPS = """Email,Name,Created
ann@x.org,Ann Alder,2026-11-20 09:00
bob@x.org,Bob Birch,2026-11-20 09:00
cai@x.org,Cai Cole,2026-11-20 09:30
dee@x.org,Dee Dunn,2026-11-20 10:00
"""

EVENTS_NIGHT_1 = """Email,Event,At
ann@x.org,email_verified,2026-11-21 10:00
bob@x.org,email_verified,2026-11-22 11:00
"""

EVENTS_NIGHT_2 = EVENTS_NIGHT_1 + """cai@x.org,email_verified,2026-11-24 08:00
dee@x.org,email_verified,2026-11-25 08:00
ann@x.org,details_submitted,2026-11-24 12:00
"""


def write(folder: Path, version: str = "2026-11 v1", days: int = 7, events: str = EVENTS_NIGHT_1) -> Path:
    """The cohort's files in ``folder``; the cohort file's path."""
    (folder / "journeys.yaml").write_text(JOURNEY.format(version=version, days=days))
    (folder / "cohorts.yaml").write_text(COHORTS)
    (folder / "signups.csv").write_text(SIGNUPS)
    (folder / "events.csv").write_text(events)
    return folder / "cohorts.yaml"


# A journey of another shape than the sample's: a scored stage branching on passed/failed (failed:
# a second try), an approval whose rejection ends the journey, members side by side one of which
# has its own second try, an optional stage, and a branch jumping over a stage to the end.
OTHER = """
journeys:
  branching:
    title: Partner programme
    stages:
      - id: apply
        title: Apply
        evidence: {event: applied}
        approval: {by: instructor}
        next: [{if: approved, to: exam}, {if: rejected, to: end}]
      - id: exam
        title: Pass the exam
        evidence: {event: exam_taken, score: {pass_mark: 60}}
        next: [{if: passed, to: paperwork}, {if: failed, to: exam}]
      - id: paperwork
        title: Paperwork
        together:
          - id: contract
            title: Sign the contract
            evidence: {event: contract_signed}
            approval: {by: instructor}
            next: [{if: rejected, to: contract}]
          - id: tax
            title: Tax form
            evidence: {event: tax_form}
      - id: webinar
        title: Join a webinar
        optional: true
        evidence: {event: webinar_joined}
        due: {after: entered, duration: 7d}
        next: listing
      - id: listing
        title: Get listed
        evidence: {event: listed}
        approval: {by: instructor}
        next: [{if: approved, to: end}, {if: rejected, to: webinar}]
"""
