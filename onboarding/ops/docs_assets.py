"""Fetch the files GX Data Docs pages load, so they render offline (scripts/setup.sh runs it):

    python -m onboarding.ops.docs_assets            # fetch what is missing, check each package's sha512
    python -m onboarding.ops.docs_assets --check    # exit 1 if anything is missing

See ``onboarding.validation.docs_assets``.
"""
from __future__ import annotations

import argparse
import sys

from onboarding.validation import docs_assets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only say whether every file is there")
    args = ap.parse_args(argv)
    folder = docs_assets.vendor_dir()
    if not args.check:
        try:
            fetched = docs_assets.fetch(folder)
        except Exception as exc:  # noqa: BLE001 - setup goes on; Data Docs then use the CDNs
            print(f"Data Docs assets not fetched ({type(exc).__name__}: {exc}); the pages will load them from "
                  f"public CDNs", file=sys.stderr)
            return 1
        if fetched:
            print(f"Data Docs assets fetched into {folder}: {', '.join(fetched)}")
    absent = docs_assets.missing(folder)
    if absent:
        print(f"missing under {folder}: {', '.join(absent)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
