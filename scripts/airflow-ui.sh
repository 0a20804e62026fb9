#!/usr/bin/env bash
# Starts Airflow locally (api-server with the UI on http://localhost:8080, scheduler, dag-processor,
# triggerer; LocalExecutor on SQLite) with this project's DAGs and connections. Ctrl-C stops it.
# Log in as "instructor"; the password is printed below and kept in
# var/airflow/simple_auth_manager_passwords.json.generated.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-instructor:admin}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
python -m onboarding.ops.airflow_setup apply
python -m onboarding.ops.statedb migrate
( for _ in $(seq 60); do
    f="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
    if [ -s "$f" ]; then echo; echo "Airflow UI: http://localhost:$AIRFLOW__API__PORT  login: $(cat "$f")"; echo; break; fi
    sleep 2
  done ) &
exec airflow standalone
