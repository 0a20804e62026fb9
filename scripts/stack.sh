#!/usr/bin/env bash
# The production-shaped stack on one machine, against a given PostgreSQL and Redis:
#   bash scripts/stack.sh start     set up, migrate, load airflow_settings.yaml, start everything
#   bash scripts/stack.sh stop      stop everything it started
#   bash scripts/stack.sh status    which processes run
# Processes: api-server (UI + REST), scheduler, dag-processor, triggerer and $STACK_WORKERS [2]
# Celery workers (CeleryExecutor, Redis broker). Settings: see scripts/stack-env.sh. Logs in
# $STACK_HOME/logs/<process>.log, Airflow's task logs under $STACK_HOME/airflow/logs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmd="${1:-}"
case "$cmd" in start|stop|status) ;; *) echo "usage: bash scripts/stack.sh start|stop|status" >&2; exit 2;; esac
[ "$cmd" = start ] && bash scripts/setup.sh
source scripts/stack-env.sh
WORKERS="${STACK_WORKERS:-2}"
PIDS="$STACK_HOME/pids"
LOGS="$STACK_HOME/logs"
mkdir -p "$PIDS" "$LOGS"

alive() { [ -s "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }
names() { echo api-server scheduler dag-processor triggerer; for i in $(seq "$WORKERS"); do echo "worker$i"; done; }

launch() {  # name, command...: in a session of its own, so stop (or a test) can end its whole tree
  local name=$1; shift
  if alive "$name"; then echo "  $name already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  setsid "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
  echo "  $name started (pid $!, log $LOGS/$name.log)"
}

tree() { local c; for c in $(pgrep -P "$1"); do echo "$c"; tree "$c"; done; }

stop_all() {
  local name pid
  for name in $(names | tac); do
    alive "$name" || { rm -f "$PIDS/$name.pid"; continue; }
    pid=$(cat "$PIDS/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 60); do
    local any=0
    for name in $(names); do alive "$name" && any=1; done
    [ $any = 0 ] && break
    sleep 0.5
  done
  for name in $(names); do
    if alive "$name"; then
      # Task processes run in process groups of their own: end them with their worker.
      pid=$(cat "$PIDS/$name.pid")
      kill -KILL $(tree "$pid") 2>/dev/null || true
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    [ -f "$PIDS/$name.pid" ] && echo "  $name stopped"
    rm -f "$PIDS/$name.pid"
  done
}

case "$cmd" in
status)
  rc=0
  for name in $(names); do
    if alive "$name"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"))"; else echo "$name: stopped"; rc=3; fi
  done
  exit $rc
  ;;
stop)
  stop_all
  exit 0
  ;;
esac

echo "stack: metadata $(python -c 'import sqlalchemy as sa,os; print(sa.engine.make_url(os.environ["AIRFLOW_DB_URL"]).render_as_string(hide_password=True))'), broker $REDIS_URL, home $STACK_HOME"
python -m onboarding.ops.deploy ensure-database "$AIRFLOW_DB_URL"
python -m onboarding.ops.deploy ensure-database "$ONBOARDING_STATE_URI"
airflow db migrate > "$LOGS/db-migrate.log" 2>&1 || { tail -40 "$LOGS/db-migrate.log"; exit 1; }
python -m onboarding.ops.airflow_setup apply
python -m onboarding.ops.statedb migrate
python - <<'EOF' || { echo "stack: Redis does not answer at $REDIS_URL" >&2; exit 1; }
import os, redis
redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
EOF

launch api-server airflow api-server --port "$AIRFLOW__API__PORT"
launch scheduler airflow scheduler
launch dag-processor airflow dag-processor
launch triggerer airflow triggerer
for i in $(seq "$WORKERS"); do
  # Each worker serves its task logs on a port of its own (several share one machine here).
  launch "worker$i" env AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((8792 + i)) \
    airflow celery worker --celery-hostname "worker$i@%h" --concurrency "$AIRFLOW__CELERY__WORKER_CONCURRENCY"
done

echo -n "stack: waiting for the api-server and the scheduler"
for _ in $(seq 120); do
  if python - <<'EOF' 2>/dev/null; then break; fi
import json, os, sys, urllib.request
h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{os.environ['AIRFLOW__API__PORT']}/api/v2/monitor/health", timeout=2))
sys.exit(0 if h["scheduler"]["status"] == "healthy" else 1)
EOF
  for name in $(names); do
    alive "$name" || { echo; echo "stack: $name exited; its log:"; tail -30 "$LOGS/$name.log"; stop_all; exit 1; }
  done
  echo -n .
  sleep 1
done
echo
pw="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "stack: up. Airflow UI: $AIRFLOW__API__BASE_URL  logins: $(cat "$pw" 2>/dev/null || echo "see $pw")"
echo "stack: stop with: bash scripts/stack.sh stop"
