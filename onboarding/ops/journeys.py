"""Check a journey file and show its journeys stage by stage:

    python -m onboarding.ops.journeys check config/journeys.yaml
    python -m onboarding.ops.journeys check config/journeys.yaml --export events.csv [--event-column Event]

Exit status 0 when every journey is valid (each is printed), 2 with the problem (file, journey,
stage and key) otherwise. With ``--export`` (an events export, CSV), each event name a journey's
stages wait on that the export never carries is listed (a misspelt ``acount_verified``), and the
exit status is 1 when there is one. See README, "Journeys".

    python -m onboarding.ops.journeys check config/journeys.yaml --languages de,fr [--templates ../my-templates]

With ``--languages``, each journey's emails that have no variant in a language are listed with
the template they fall back on (docs/journeys/languages.md); ``--templates`` is a cohort file's
template folder, searched first as the pipeline searches it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


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


def missing_events(journey, names: set[str]) -> list[str]:
    """The journey's stages whose event (of the events export) is none of ``names``, in words."""
    return [f"{journey.id}: stage {s.id!r} waits on event {s.evidence.event_name!r}, which the export never carries"
            for s in journey.stages if s.evidence.event and s.evidence.event_name not in names]


def export_event_names(path: Path, column: str | None) -> set[str]:
    """The event names an events export carries (read as the validation reads them: trimmed,
    lower case); ``column``: its header (default: the one named 'event', any case)."""
    import pandas as pd

    from onboarding.validation.values import event_names

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    header = column or next((c for c in frame.columns if c.strip().lower() == "event"), None)
    if header not in frame.columns:
        raise KeyError(f"{path}: no column {column or 'Event'!r}; name it with --event-column "
                       f"(the headers: {', '.join(frame.columns)})")
    names, problems = event_names(frame[header])
    return set(names[problems.isna()])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onboarding.ops.journeys", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a journey file and print its journeys")
    check.add_argument("file", type=Path)
    check.add_argument("--export", type=Path, help="an events export (CSV): list the event names it lacks")
    check.add_argument("--event-column", help="the export's event column (default: the header 'Event')")
    check.add_argument("--languages", help="languages to list missing email variants for (like de,fr)")
    check.add_argument("--templates", type=Path, help="a cohort file's template folder, searched first")
    args = ap.parse_args(argv)
    from onboarding.cohorts import read_yaml
    from onboarding.errors import ConfigError
    from onboarding.journeys import journeys_from

    journeys = _read(args.file, lambda: journeys_from(read_yaml(args.file), args.file), ConfigError)
    if journeys is None:
        return 2
    for j in journeys.values():
        print("\n".join(describe(j)))
    if args.languages is not None and not _languages(journeys, args.languages, args.templates):
        return 2
    if args.export is None:
        return 0
    names = _read(args.export, lambda: export_event_names(args.export, args.event_column), KeyError)
    if names is None:
        return 2
    missing = [line for j in journeys.values() for line in missing_events(j, names)]
    print(f"{args.export}: {len(names)} event name(s)" + (": every stage's event is there" if not missing else ""))
    for line in missing:
        print(f"  missing: {line}")
    return 1 if missing else 0


def _languages(journeys: dict, wanted: str, folder: Path | None) -> bool:
    """Print, per journey and language, the emails without that language's variant and the
    template each falls back on; False (the reason on stderr) for a language that is no tag or a
    template folder that may not be used."""
    from onboarding.languages import normalise_language
    from onboarding.templates import folder_problems, missing_variants

    langs = [w.strip() for w in wanted.split(",") if w.strip()]
    bad = [w for w in langs if normalise_language(w) != w.lower()]
    if bad or not langs:
        print(f"error: --languages: {bad or wanted!r} are not plain language tags (like de,fr)", file=sys.stderr)
        return False
    problems = folder_problems(folder) if folder is not None else []
    if problems:
        print("error: --templates: " + "; ".join(problems), file=sys.stderr)
        return False
    for j in journeys.values():
        for lang in dict.fromkeys(w.lower() for w in langs):
            missing = missing_variants(j, lang, str(folder.resolve()) if folder else None)
            print(f"{j.id} [{lang}]: " + ("every email has its variant" if not missing else
                                           f"{len(missing)} of {len(j.ledger_kinds())} email(s) without a {lang} variant"))
            for kind, fallback in missing:
                print(f"  missing: {kind} -> falls back on {fallback}/ (English)")
    return True


def _read(path: Path, read: Any, refused: type[Exception]) -> Any:
    """What ``read()`` gives, or None once the reason it could not read ``path`` is on stderr (no
    such file, or ``refused``: a broken journey file, an export without the event column)."""
    try:
        return read()
    except FileNotFoundError:
        print(f"error: {path}: no such file", file=sys.stderr)
    except refused as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
    return None


if __name__ == "__main__":
    sys.exit(main())

