"""Erase a person on request (GDPR's right to erasure), from the command line (``source
scripts/env.sh`` first):

    python -m onboarding.ops.erase ann@example.org --reason "asked by email, ticket 4711"
    python -m onboarding.ops.erase ann@example.org --cohort data-eng-2026-12 --reason "..."

Without ``--cohort`` the person goes from every cohort. Their rows leave the state database, their
rows leave every run folder's input snapshots (the manifests note it), their lines leave the
reports, and the instructor's Google Sheet is rewritten. What stays is an audit record with a
salted hash of the address, and a suppression under that hash: a later export naming them is
recognised and their rows left out, so they are never emailed again. The trigger form's
"Erase" field does the same from the Airflow UI. See README, "Privacy and deliverability".
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m onboarding.ops.erase", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", help="the person's email address")
    ap.add_argument("--cohort", default="*", help="one cohort's id (default: every cohort)")
    ap.add_argument("--reason", required=True, help="why (kept in the audit record)")
    ap.add_argument("--url", help="SQLAlchemy URL of the state database (default: the Airflow connection)")
    args = ap.parse_args(argv)
    from onboarding import paths
    from onboarding.cohorts import read_cohort_file
    from onboarding.ops.suppress import _store
    from onboarding.pipeline.erasure import erase
    from onboarding.resources import Resources

    store = _store(args.url)
    found = read_cohort_file()
    res = Resources.outside_task()
    try:
        outboxes = res.outbox_paths(c.email_connection for c in found.cohorts.values())
        result = erase(store, args.address, args.cohort, found.cohorts, paths.runs_base(), outboxes,
                       getpass.getuser(), args.reason, res.sheet_writer)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
