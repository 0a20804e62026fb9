"""``python -m onboarding.ops.statedb migrate|status [--url URL]``: bring the state database (the
``onboarding_state`` connection's, or URL) to the current schema, or list what is pending (exit 1
when something is)."""
from __future__ import annotations

import argparse
import sys

from onboarding.store import db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onboarding.ops.statedb", description=__doc__)
    parser.add_argument("command", choices=["migrate", "status"])
    parser.add_argument("--url", help="SQLAlchemy URL of the state database (default: the Airflow connection)")
    args = parser.parse_args(argv)
    if args.url:
        url = args.url
    else:
        from onboarding import paths
        from onboarding.resources import Resources

        url = Resources.outside_task().database_url(paths.STATE_CONN_ID, "the state database")
    engine = db.make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    if args.command == "status":
        todo = db.pending(engine)
        print(f"state database {where}: " + (f"pending {todo}" if todo else "up to date"))
        return 1 if todo else 0
    applied = db.migrate(engine)
    print(f"state database {where}: " + (f"applied {applied}" if applied else "already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
