"""The suppression list from the command line (``source scripts/env.sh`` first):

    python -m onboarding.ops.suppress add ann@example.org --reason manual --note "asked by phone"
    python -m onboarding.ops.suppress add @competitor.example --cohort data-eng-2026-12
    python -m onboarding.ops.suppress remove ann@example.org
    python -m onboarding.ops.suppress list

An entry is an address or a whole domain (``@example.org``), for every cohort (default) or one.
Reasons: manual, unsubscribed (stops marketing emails only), hard_bounce, complaint, erased. The
next run honours it when it decides and again when it sends.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from onboarding.consent import REASONS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onboarding.ops.suppress", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="suppress an address or @domain")
    add.add_argument("address")
    add.add_argument("--reason", choices=REASONS, default="manual")
    add.add_argument("--cohort", default="*", help="one cohort's id (default: every cohort)")
    add.add_argument("--note")
    rm = sub.add_parser("remove", help="take an address or @domain off the list")
    rm.add_argument("address")
    rm.add_argument("--cohort", default="*")
    sub.add_parser("list", help="print the list")
    ap.add_argument("--url", help="SQLAlchemy URL of the state database (default: the Airflow connection)")
    args = ap.parse_args(argv)
    store = _store(args.url)
    if args.command == "add":
        try:
            kept = store.suppressions.add(args.address, args.reason, "command line", args.cohort,
                                          added_by=getpass.getuser(), note=args.note)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if kept is None:
            print("nothing stored: that person was erased on request (never emailed again as it is)")
        else:
            print(f"suppressed {kept} for {'every cohort' if args.cohort == '*' else args.cohort} ({args.reason})")
    elif args.command == "remove":
        n = store.suppressions.remove(args.address, args.cohort)
        print(f"removed {n} entr{'y' if n == 1 else 'ies'}")
        return 0 if n else 1
    else:
        for r in store.suppressions.all():
            print(f"{r['address']}\t{r['cohort_id']}\t{r['reason']}\t{r['source']}\t{r['added_by'] or ''}\t"
                  f"{r['created_at']}\t{r['note'] or ''}")
    return 0


def _store(url: str | None):
    from onboarding.store import Store, db

    if url is None:
        from onboarding import paths
        from onboarding.resources import Resources

        url = Resources.outside_task().database_url(paths.STATE_CONN_ID, "the state database")
    engine = db.make_engine(url)
    db.migrate(engine)
    return Store(engine)


if __name__ == "__main__":
    sys.exit(main())
