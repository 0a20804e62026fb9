"""Check a journey file and show its journeys stage by stage:

    python -m onboarding.ops.journeys check config/journeys.yaml
    python -m onboarding.ops.journeys check config/journeys.yaml --export events.csv [--event-column Event]
    python -m onboarding.ops.journeys check config/journeys.yaml --draw journey.svg

Exit status 0 when every journey is valid (each is printed), 2 with the problem (file, journey,
stage and key) otherwise. With ``--export`` (an events export, CSV), each event name a journey's
stages wait on that the export never carries is listed (a misspelt ``acount_verified``), and the
exit status is 1 when there is one. See docs/journeys/index.md. With ``--draw OUT.svg``, each
journey is also drawn as its map (docs/journeys/map.md), without figures: to ``OUT.svg`` for a
file of one journey, else ``OUT-<journey>.svg`` each.

    python -m onboarding.ops.journeys check config/journeys.yaml --languages de,fr [--templates ../my-templates]

With ``--languages``, each journey's emails that have no variant in a language are listed with
the template they fall back on (docs/journeys/languages.md); ``--templates`` is a cohort file's
template folder, searched first as the pipeline searches it.

Simulate what a journey will do to one customer, night by night (docs/journeys/simulator.md):

    python -m onboarding.ops.journeys simulate saas-onboarding --customer-events her-events.csv \
        --cohorts config/journey-cohorts.yaml [--cohort saas-2026-11] [--journeys config/journeys.yaml] \
        [--signed-up-at 2026-11-20T09:00] [--from 2026-11-21 --to 2026-12-31] [--approvals approve] \
        [--consent] [--attribute language=de] [--every-night]

Each nightly run's moment (in the cohort's zone), her stage and standing, and every email that
night's run sends her, from the nightly run's own decide path. Exit status 0, or 2 with the
problem (the events file's row and column) on stderr.

"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def describe(journey) -> list[str]:
    """A journey in words, one line per stage."""
    from onboarding.journeys import show_duration

    # The stages a customer does: a 'together' stage is its members' (counted, not itself).
    lines = [f"{journey.id}: {journey.title} ({sum(not s.members for s in journey.stages)} stages)"]
    if journey.csms:
        roster = ", ".join(f"{c.name} <{c.email}> (up to {c.capacity}" + "".join(f", {k} {v}" for k, v in c.attributes)
                           + ")" for c in journey.csms)
        lines.append(f"  CSMs, {journey.csm_assignment.replace('_', ' ')}"
                     + (f", matching {', '.join(journey.csm_match)}" if journey.csm_match else "") + f": {roster}")
    elif journey.csms_per_cohort:
        lines.append(f"  CSMs from each cohort's 'csms' export, {journey.csm_assignment.replace('_', ' ')}"
                     + (f", matching {', '.join(journey.csm_match)}" if journey.csm_match else ""))
    for t in journey.teams:
        lines.append(f"  Team {t.shown}" + (f" ({t.name})" if t.title else "") + f": {', '.join(t.addresses)}; "
                     f"digest {t.cadence.replace(':', ' on ')}")
    if journey.queries is not None:
        q = journey.queries
        who = f"the {journey.owner_title(q.owner)} team" if q.owner else "the customer's CSM"
        lines.append(f"  Queries ({q.asked} until {q.answered}): answered by {who}; the instructor's once open "
                     f"longer than {show_duration(q.escalate_after)}")
    number = 0
    for s in journey.stages:
        if s.group is None:
            number += 1
        if s.members:
            lines.append(f"  {number}. {s.id}: side by side: {', '.join(s.members)}, entered together; the journey "
                         f"goes on when all are done (a member's cancel cancels, one waiting on an approver holds "
                         f"only the join); then " + "; ".join(b.to for b in s.next))
            continue
        i = f"{number}.{journey.stage(s.group).members.index(s.id) + 1}" if s.group else number
        done = _done_by(s.evidence)
        if s.optional:
            done = "optional (skipped, without penalty, when due passes undone); " + done
        due = ("the cohort's deadline" if s.due and s.due.cohort_deadline else f"{s.due.date}" if s.due and s.due.date
               else f"{show_duration(s.due.duration)} after {s.due.after}" if s.due else "no due time")
        parts = [f"  {i}. {s.id}: {done}; due {due}"]
        if s.reminders:
            parts.append("reminders " + ", ".join(show_duration(r) for r in s.reminders) + " before")
        elif s.reminders is None:
            parts.append("reminders from the cohort's reminder_days_before")
        if s.optional:
            parts.append("skipped: " + ("waits at the join" if s.group else
                                        "on to " + next(b.to for b in s.next if b.condition is None)))
        if s.on_missed != "nothing":
            parts.append(f"missed: {s.on_missed.replace(':', ' to ')}")
        if s.owner:
            parts.append(f"owned by {_owner(journey, s.owner)}")
        if s.approval_by:
            team = journey.team(s.approval_by)
            parts.append(f"approved by {'the ' + team.shown + ' team' if team else 'the ' + s.approval_by}" + (f" (automatically at a score >= {s.auto_approve_at:g})"
                                                               if s.auto_approve_at is not None else ""))
        if s.emails_on_enter:
            parts.append("on entering: " + ", ".join(s.emails_on_enter))
        if s.emails_on_complete:
            parts.append("on completing: " + ", ".join(s.emails_on_complete))
        parts.append(f"then the join of {s.group}" + "".join(f"; if {b.condition}: {b.to}" for b in s.next)
                     if s.group else
                     "then " + "; ".join(f"{b.to}" if b.condition is None else f"if {b.condition}: {b.to}"
                                         for b in s.next))
        lines.append("; ".join(parts))
    handoffs = journey.handoffs()
    if handoffs:
        lines.append(f"  Handoffs ({len(handoffs)}):")
        lines += [f"    {h.from_stage} -> {h.to_stage}: {_owner(journey, h.from_owner)} hands the customer to "
                  f"{_owner(journey, h.to_owner)}" for h in handoffs]
    return lines


def _owner(journey, owner: str) -> str:
    """An owner in words: 'the Support team', or 'the instructor'."""
    team = journey.team(owner)
    return f"the {team.shown} team" if team else f"the {owner}"


def _done_by(ev) -> str:
    """What completes a stage, in words: one evidence, or named ones (all of them, or any one)."""
    if ev.need:
        return (f"done when {'all' if ev.need == 'all' else 'any one'} of {len(ev.parts)} named evidences "
                f"{'are' if ev.need == 'all' else 'is'} done (each customer's count is kept: "
                + ", ".join(f"{p.name} = {_done_by(p.evidence).removeprefix('done by ')}" for p in ev.parts) + ")")
    done = (f"done by column {ev.column} of {ev.source}" if ev.column else
            f"done by event {ev.event!r} in {ev.source}" if ev.event else "done on entering")
    return done + (f", score >= {ev.pass_mark:g}" if ev.pass_mark is not None else "")


def missing_events(journey, names: set[str]) -> list[str]:
    """The journey's events (a stage's, or a named evidence's) that none of ``names`` is, in words."""
    return [f"{journey.id}: stage {s.id!r} waits on event {u.event_name!r}, which the export never carries"
            for s in journey.stages for u in s.evidence.units() if u.event and u.event_name not in names]


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
    check.add_argument("--draw", type=Path, metavar="OUT.svg", help="draw each journey's map as an SVG file")
    _simulate_parser(sub)
    args = ap.parse_args(argv)
    if args.command == "simulate":
        return simulate_command(args)
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
    if args.draw is not None:
        draw_maps(journeys, args.draw)
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
def draw_maps(journeys: dict[str, Any], out: Path) -> list[Path]:
    """Each journey of the file (not the built-in seed) drawn as its map, without figures."""
    from onboarding.reporting.journey_map import draw

    drawn = [j for j in journeys.values() if not j.is_seed]
    paths = []
    for j in drawn:
        # A journey id is lower-case letters, digits, '-' and '_': safe in a file name.
        path = out if len(drawn) == 1 else out.with_name(f"{out.stem}-{j.id}{out.suffix or '.svg'}")
        path.write_text(draw(j, themed=False), encoding="utf-8")
        print(f"drew {j.id!r} ({j.version}) to {path}")
        paths.append(path)
    return paths


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


def _simulate_parser(sub) -> None:
    sim = sub.add_parser("simulate", help="what a journey does to one customer, night by night")
    sim.add_argument("journey", help="the journey's id (saas-onboarding)")
    sim.add_argument("--customer-events", type=Path, required=True,
                     help="one customer's events (CSV: the cohort's events export's columns, or email,event,at,"
                          "value,link); rows signed_up, approved:<stage>, rejected:<stage> too")
    sim.add_argument("--journeys", type=Path, help="the journey file (default: the cohort file's)")
    sim.add_argument("--cohorts", type=Path, help="the cohort file (default: $ONBOARDING_COHORTS_FILE or "
                                                  "config/cohorts.yaml)")
    sim.add_argument("--cohort", help="whose time zone, deadline, email classes and suppressions to use "
                                      "(default: the first cohort following the journey)")
    sim.add_argument("--signed-up-at", help="when she signed up (ISO 8601; without an offset: the cohort's "
                                            "zone); default: the file's signed_up row")
    sim.add_argument("--from", dest="first", type=dt.date.fromisoformat,
                     help="the first night (the Dag's date; default: the first nightly run after signup)")
    sim.add_argument("--to", dest="last", type=dt.date.fromisoformat, help="the last night (default: 60 nights on)")
    sim.add_argument("--approvals", choices=("file", "approve"), default="file",
                     help="file: only the file's approved:/rejected: rows answer (default); approve: every "
                          "approval request is approved an hour after the night that asks it")
    sim.add_argument("--consent", action="store_true", help="she consented to marketing emails")
    sim.add_argument("--attribute", action="append", default=[], metavar="KEY=VALUE",
                     help="her signup's attributes, for a journey's csm_match (language=de)")
    sim.add_argument("--every-night", action="store_true", help="print quiet nights too (default: folded)")


def simulate_command(args) -> int:
    """The ``simulate`` subcommand: exit 0 with the nights printed, 2 with the problem on stderr."""
    from onboarding.cohorts import read_cohort_file, read_yaml
    from onboarding.errors import ConfigError
    from onboarding.journeys import journeys_from
    from onboarding.paths import cohorts_file
    from onboarding.pipeline.simulate import EventsFileError, read_events_file, simulate_file
    from onboarding.run import nightly_schedule

    try:
        found = read_cohort_file(args.cohorts or cohorts_file())
        if args.journeys:
            journeys = journeys_from(read_yaml(args.journeys), args.journeys)
        else:
            journeys = dict(found.journeys or {})
        if args.journey not in journeys:
            raise ConfigError(f"no journey {args.journey!r} in {args.journeys or found.path} "
                              f"(its journeys: {', '.join(journeys) or 'none'})")
        journey = journeys[args.journey]
        cohort = _simulated_cohort(found, args.cohort, journey.id)
        attributes = dict(_attribute(a) for a in args.attribute)
        customer = read_events_file(args.customer_events, cohort, journey)
        signed = _moment(args.signed_up_at, cohort.tz) if args.signed_up_at else customer.signed_up_at
        if signed is None:
            raise ConfigError(f"{args.customer_events}: when did she sign up? Give --signed-up-at, or a row with the "
                              f"event signed_up")
        if args.first and args.last and args.last < args.first:
            raise ConfigError("--to is before --from")
        tz, run_time = nightly_schedule()
        nights = simulate_file(cohort, journey, customer, signed, args.first, args.last, tz, run_time,
                               "approve" if args.approvals == "approve" else None, args.consent, attributes)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2
    except (ConfigError, EventsFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(night_lines(nights, customer.email, signed, cohort, journey, tz, run_time, args.every_night)))
    return 0


def _simulated_cohort(found, cohort_id: str | None, journey_id: str):
    """The cohort whose settings the simulation uses: the one named, else the first following the journey."""
    from onboarding.errors import ConfigError

    if cohort_id:
        if cohort_id not in found.cohorts:
            raise ConfigError(f"no cohort {cohort_id!r} in {found.path}" + (
                f": {found.broken[cohort_id]}" if cohort_id in found.broken else ""))
        return found.cohorts[cohort_id]
    for c in found.cohorts.values():
        if c.journey == journey_id:
            return c
    raise ConfigError(f"no cohort of {found.path} follows journey {journey_id!r}: name one with --cohort (its time "
                      f"zone, deadline and email classes are used), or give --cohorts")


def _attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise ValueError(f"--attribute {text!r}: give KEY=VALUE (language=de)")
    return key.strip(), value.strip()


def _moment(text: str, tz) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--signed-up-at {text!r}: not an ISO 8601 time (2026-11-20T09:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(dt.timezone.utc)


def night_lines(nights, email: str, signed: dt.datetime, cohort, journey, tz: str, run_time: dt.time,
                every_night: bool = False) -> list[str]:
    """The simulated nights as a manager reads them: one line per night (quiet nights folded)."""
    zone = cohort.tz
    titles = {s.id: s.title for s in journey.stages}
    lines = [f"Journey {journey.id} ({journey.title}) for {email}, with cohort {cohort.id}'s settings; "
             f"times in {cohort.timezone}",
             f"Signed up {signed.astimezone(zone):%a %d %b %Y %H:%M}; the nightly run: {run_time:%H:%M} {tz}",
             ""]
    folded: list = []

    def flush() -> None:
        if len(folded) > 1:
            lines.append(f"  ... the same each night until {folded[-1].moment.astimezone(zone):%a %d %b %Y %H:%M}, "
                         f"nothing sent ({len(folded)} nights)")
        elif folded:
            lines.append(_night_line(folded[0], zone, titles))
        folded.clear()

    previous = None
    for n in nights:
        if not every_night and previous is not None and n.same_as(previous):
            folded.append(n)
            continue
        flush()
        lines.append(_night_line(n, zone, titles))
        previous = n
    flush()
    last = nights[-1] if nights else None
    if last is not None:
        lines.append("")
        lines.append(f"The journey ends: {last.standing}." if last.ended else
                     f"After the last night simulated: {last.where()}.")
    return lines


def _night_line(n, zone, titles: dict[str, str]) -> str:
    return "; ".join([f"{n.moment.astimezone(zone):%a %d %b %Y %H:%M}  {n.where()}", *n.what()])


if __name__ == "__main__":
    sys.exit(main())

