# Source this (after scripts/setup.sh) for a shell that runs this project's Airflow:
#   source scripts/env.sh
# Everything lives under var/ in the checkout unless already set in the environment.
ONBOARDING_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ONBOARDING_ROOT
export PATH="$ONBOARDING_ROOT/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ONBOARDING_ROOT/var/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ONBOARDING_ROOT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ONBOARDING_ROOT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__DEFAULT_TIMEZONE="${AIRFLOW__CORE__DEFAULT_TIMEZONE:-${ONBOARDING_TIMEZONE:-Australia/Sydney}}"
export ONBOARDING_DATA_DIR="${ONBOARDING_DATA_DIR:-$ONBOARDING_ROOT/var/data}"
export GX_ANALYTICS_ENABLED=false
export ONBOARDING_SEND_POOL="${ONBOARDING_SEND_POOL:-gmail_sends}"
mkdir -p "$AIRFLOW_HOME" "$ONBOARDING_DATA_DIR"
# The embedded default also reads the connections from AIRFLOW_CONN_* variables; the production
# stack (scripts/stack.sh) sets ONBOARDING_EXPORT_CONNECTIONS=0 and keeps them in its metadata
# database only, where workers on other machines find them too.
if [ "${ONBOARDING_EXPORT_CONNECTIONS:-1}" != 0 ]; then
  eval "$("$ONBOARDING_ROOT/.venv/bin/python" -m onboarding.ops.airflow_setup)"
fi
