"""Check a journey file and show its journeys stage by stage:

    python -m onboarding.ops.journeys check config/journeys.yaml

Exit status 0 when every journey is valid (each is printed), 2 with the problem (file, journey,
stage and key) otherwise. See README, "Journeys".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def describe(journey) -> list[str]:
    """A journey in words, one line per stage."""
    from onboarding.journeys import show_duration

    lines = [f"{journey.id}: {journey.title} ({len(journey.stages)} stages)"]
    if journey.csms:
        roster = ", ".join(f"{c.name} <{c.email}> (up to {c.capacity}" + "".join(f", {k} {v}" for k, v in c.attributes)
                           + ")" for c in journey.csms)
        lines.append(f"  CSMs, {journey.csm_assignment.replace('_', ' ')}"
                     + (f", matching {', '.join(journey.csm_match)}" if journey.csm_match else "") + f": {roster}")
    elif journey.csms_per_cohort:
        lines.append(f"  CSMs from each cohort's 'csms' export, {journey.csm_assignment.replace('_', ' ')}"
                     + (f", matching {', '.join(journey.csm_match)}" if journey.csm_match else ""))
    for i, s in enumerate(journey.stages, 1):
        ev = s.evidence
        done = (f"done by column {ev.column} of {ev.source}" if ev.column else
                f"done by event {ev.event!r} in {ev.source}" if ev.event else "done on entering")
        if ev.pass_mark is not None:
            done += f", score >= {ev.pass_mark:g}"
        due = ("the cohort's deadline" if s.due and s.due.cohort_deadline else f"{s.due.date}" if s.due and s.due.date
               else f"{show_duration(s.due.duration)} after {s.due.after}" if s.due else "no due time")
        parts = [f"  {i}. {s.id}: {done}; due {due}"]
        if s.reminders:
            parts.append("reminders " + ", ".join(show_duration(r) for r in s.reminders) + " before")
        elif s.reminders is None:
            parts.append("reminders from the cohort's reminder_days_before")
        if s.on_missed != "nothing":
            parts.append(f"missed: {s.on_missed.replace(':', ' to ')}")
        if s.approval_by:
            parts.append(f"approved by the {s.approval_by}" + (f" (automatically at a score >= {s.auto_approve_at:g})"
                                                               if s.auto_approve_at is not None else ""))
        if s.emails_on_enter:
            parts.append("on entering: " + ", ".join(s.emails_on_enter))
        if s.emails_on_complete:
            parts.append("on completing: " + ", ".join(s.emails_on_complete))
        parts.append("then " + "; ".join(f"{b.to}" if b.condition is None else f"if {b.condition}: {b.to}"
                                         for b in s.next))
        lines.append("; ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onboarding.ops.journeys", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a journey file and print its journeys")
    check.add_argument("file", type=Path)
    args = ap.parse_args(argv)
    from onboarding.cohorts import read_yaml
    from onboarding.errors import ConfigError
    from onboarding.journeys import journeys_from

    try:
        journeys = journeys_from(read_yaml(args.file), args.file)
    except FileNotFoundError:
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for j in journeys.values():
        print("\n".join(describe(j)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
