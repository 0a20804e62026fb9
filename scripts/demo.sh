#!/usr/bin/env bash
# One command: set up, then run the nightly DAG on the bundled sample data for each night around
# the sample cohorts' deadlines, printing per night what was decided and sent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
python -m onboarding.ops.airflow_setup apply
exec python -m onboarding.ops.demo "$@"
