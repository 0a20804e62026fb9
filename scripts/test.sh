#!/usr/bin/env bash
# One command: set up (as scripts/setup.sh) and run the whole test suite: DAG integrity, unit tests
# of the logic, and dag.test() runs of the DAG against the local fake Google server.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k decisions`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
exec python -m pytest "$@"
