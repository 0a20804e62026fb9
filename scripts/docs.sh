#!/usr/bin/env bash
# Builds the documentation site (docs/, mkdocs.yml) into var/site/, offline and strict: any
# warning (a broken link or anchor, a page missing from the navigation) fails the build.
#   bash scripts/docs.sh                 # set up if needed, then build
#   bash scripts/docs.sh --site-dir DIR  # extra arguments go to mkdocs build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/mkdocs ] || bash scripts/setup.sh
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --clean "$@"
echo "docs: var/site/index.html (served at /onboarding/guide/ by the Onboarding plugin)"
