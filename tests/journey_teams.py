"""A journey of three teams and two handoffs, written into a folder for the teams' tests: Sales
approves the kickoff, Professional services approves the setup, Customer success owns adoption
(sales -> services -> success). Sales has two members, Services one address, Success one member
and a weekly digest."""
from __future__ import annotations

from pathlib import Path

from helpers import events_cohort

JOURNEYS = """
journeys:
  handover:
    title: Enterprise handover
    teams:
      sales: {title: Sales, members: [sam@team.org, sue@team.org]}
      services: {title: Professional services, members: svc@team.org}
      success: {title: Customer success, members: [cat@team.org], digest: "weekly:mon"}
    stages:
      - id: kickoff
        title: Kickoff call
        owner: sales
        evidence: {event: kickoff_done}
        approval: {by: sales}
        next: [{if: approved, to: setup}, {if: rejected, to: kickoff}]
      - id: setup
        title: Technical setup
        owner: services
        evidence: {event: setup_done}
        approval: {by: services}
        next: [{if: approved, to: adoption}, {if: rejected, to: setup}]
      - id: adoption
        title: First month of use
        owner: success
        emails_on_enter: [adoption_welcome]
        evidence: {event: adopted}
        due: {after: entered, duration: 30d}
"""

COHORTS = "journeys: journeys.yaml\ncohorts:" + events_cohort(
    "handover-2026-11", "Enterprise handover, November 2026", "handover", "Onboarding <onboarding@example.com>")

SIGNUPS = """Email,Name,Created
ann@x.org,Ann Alder,2026-11-20 09:00
bob@x.org,Bob Birch,2026-11-20 09:00
cai@x.org,Cai Cole,2026-11-21 09:00
"""

# Ann and Bob finish their kickoff before the first night (Cai does not); Ann's setup is done
# between the first night and the second.
EVENTS = """Email,Event,At
ann@x.org,kickoff_done,2026-11-25 10:00
bob@x.org,kickoff_done,2026-11-26 10:00
ann@x.org,setup_done,2026-11-28 10:00
"""


def write(folder: Path) -> Path:
    """The cohort's files in ``folder``; the cohort file's path."""
    for name, text in {"journeys.yaml": JOURNEYS, "cohorts.yaml": COHORTS, "signups.csv": SIGNUPS,
                       "events.csv": EVENTS}.items():
        (folder / name).write_text(text)
    return folder / "cohorts.yaml"
