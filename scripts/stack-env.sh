# Source this for a shell (or a process) that belongs to the production-shaped stack:
#   source scripts/stack-env.sh      then e.g. `airflow dags list`, `airflow celery worker`
# CeleryExecutor on Redis, Airflow's metadata and the project's state on PostgreSQL. Every value
# can be given in the environment first; the defaults are this machine's own services.
#   AIRFLOW_DB_URL        Airflow's metadata database   [postgresql+psycopg://postgres@127.0.0.1:5432/onboarding_airflow]
#   ONBOARDING_STATE_URI  the project's state database  [postgres://postgres@127.0.0.1:5432/onboarding_state]
#   REDIS_URL             Celery's broker               [redis://127.0.0.1:6379/0]
#   STACK_HOME            AIRFLOW_HOME, logs, pids      [var/stack]
#   AIRFLOW__API__PORT    the api-server (UI, REST)     [8080]
# The shared secrets (JWT secret, Fernet key, api secret key) come from the environment, or are
# generated once into $STACK_HOME/secrets.env (mode 600) for a single machine.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STACK_HOME="${STACK_HOME:-$_root/var/stack}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$STACK_HOME/airflow}"
export ONBOARDING_DATA_DIR="${ONBOARDING_DATA_DIR:-$STACK_HOME/data}"
export ONBOARDING_EXPORT_CONNECTIONS=0
export AIRFLOW_DB_URL="${AIRFLOW_DB_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/onboarding_airflow}"
export ONBOARDING_STATE_URI="${ONBOARDING_STATE_URI:-postgres://postgres@127.0.0.1:5432/onboarding_state}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$AIRFLOW_DB_URL"
# psycopg 3 serves both Airflow's sync and async sessions (no asyncpg needed).
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC:-$AIRFLOW_DB_URL}"
export AIRFLOW__CELERY__BROKER_URL="$REDIS_URL"
export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-db+$AIRFLOW_DB_URL}"
export AIRFLOW__CELERY__WORKER_CONCURRENCY="${AIRFLOW__CELERY__WORKER_CONCURRENCY:-4}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW__API__PORT}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-instructor:admin,data:viewer}"
source "$_root/scripts/env.sh"
eval "$("$_root/.venv/bin/python" -m onboarding.ops.deploy secrets "$STACK_HOME/secrets.env")"
unset _root
