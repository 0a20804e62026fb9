#!/usr/bin/env bash
# Sets up the project on a machine with Python 3.11 and nothing else: a virtualenv in .venv with
# the pinned set from requirements.lock (installed by uv, fetched from PyPI) and this package.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "warning: requirements.lock was resolved for Python 3.11; $("$PYTHON" --version) may resolve differently" >&2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip -q
  .venv/bin/python -m pip install -q uv==0.13.8
fi
stamp=.venv/.requirements.lock.installed
if ! cmp -s requirements.lock "$stamp" 2>/dev/null; then
  # --compile-bytecode: every task process imports Airflow, GX and pandas; with their bytecode
  # written once here, no process compiles them again (even where PYTHONDONTWRITEBYTECODE is set).
  .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python -r requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  cp requirements.lock "$stamp"
fi
# The files GX Data Docs pages load (Bootstrap, jQuery, Vega...), from the npm registry with pinned
# sha512s, so the validation reports render offline. Without them the pages use public CDNs.
.venv/bin/python -m onboarding.ops.docs_assets || echo "warning: Data Docs will load their styles from public CDNs" >&2
