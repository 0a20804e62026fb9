"""Erase a person on request (GDPR's right to erasure), from the command line (``source
scripts/env.sh`` first):

    python -m onboarding.ops.erase ann@example.org --reason "asked by email, ticket 4711"
    python -m onboarding.ops.erase ann@example.org --cohort data-eng-2026-12 --reason "..."

Without ``--cohort`` the person goes from every cohort. Their rows leave the state database, their
rows leave every run folder's input snapshots (the manifests note it), their lines leave the
reports, and the instructor's Google Sheet is rewritten. What stays is an audit record with a
salted hash of the address, and a suppression under that hash: a later export naming them is
recognised and their rows left out, so they are never emailed again. They leave the approval
requests in Airflow's database too, where this machine reaches it (Airflow's configuration). The
Onboarding page's API does the same from the Airflow UI (POST /onboarding/api/erasures). See
docs/privacy.md.
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
    from onboarding.pipeline import privacy
    from onboarding.resources import Resources

    store = _store(args.url)
    found = read_cohort_file()
    res = Resources.outside_task()
    try:
        outboxes = res.outbox_paths(c.email_connection for c in found.cohorts.values())
        result = privacy.erase(store, found, args.address, args.cohort, args.reason, getpass.getuser(),
                               paths.runs_base(), outboxes, res.sheet_writer, _airflow_requests)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


def _airflow_requests(address: str, names: list[str], scope: str) -> dict[str, int] | str:
    """The person out of the approval requests in Airflow's database, when this machine reaches it;
    otherwise say so (run the erasure on the Onboarding page, or where Airflow is configured)."""
    from onboarding import airflow_db

    try:
        return airflow_db.erase_person(address, names, scope)
    except Exception as exc:  # noqa: BLE001 - the state database's erasure stands; the rest is reported
        print(f"warning: Airflow's database not reached ({type(exc).__name__}); approval requests there still "
              "name them: erase them on the Onboarding page too", file=sys.stderr)
        return f"not reached: {type(exc).__name__}"


if __name__ == "__main__":
    sys.exit(main())
