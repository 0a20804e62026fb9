#!/usr/bin/env bash
# Starts Airflow locally (api-server with the UI on http://localhost:8080, or on AIRFLOW__API__PORT;
# scheduler, dag-processor, triggerer; LocalExecutor on SQLite) with this project's DAGs and
# connections. Ctrl-C stops it. Log in as "instructor" with the password printed once the UI answers
# (kept in var/airflow/simple_auth_manager_passwords.json.generated).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-instructor:admin}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
# Tasks report to the api-server's execution API: at this port, not Airflow's default 8080 (which
# is refused, or another program's, when the UI runs elsewhere). Set either to override.
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW__API__PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-${AIRFLOW__API__BASE_URL%/}/execution/}"
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
python -m onboarding.ops.airflow_setup apply
python -m onboarding.ops.statedb migrate
# The login, once the api-server answers (it adds the configured users to the password file then;
# the file may hold others, e.g. the demo's, that cannot log in here).
( for _ in $(seq 150); do
    if python - "$AIRFLOW__API__PORT" <<'PY' 2>/dev/null; then break; fi
import json, os, sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v2/monitor/health", timeout=2)
users = [u.split(":")[0].strip() for u in os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",") if u.strip()]
path = os.path.join(os.environ["AIRFLOW_HOME"], "simple_auth_manager_passwords.json.generated")
passwords = json.load(open(path))
print(f"\nAirflow UI: {os.environ['AIRFLOW__API__BASE_URL']}  login: "
      + ", ".join(f"{u} / {passwords[u]}" for u in users) + "\n", flush=True)
PY
    sleep 2
  done ) &
exec airflow standalone
