#!/usr/bin/env bash
# Set up everything the tests need (venv, PostgreSQL test database, Chromium, Mosquitto) and run the whole
# suite on SQLite and PostgreSQL. Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}
TEST_DB=${TEST_DB:-whoop_test}

log() { printf '[test] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# 1. Virtual environment with pinned dependencies.
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# 2. PostgreSQL: start the local cluster if it is down, then a fresh test database TEST_DB
# (default whoop_test), unless TEST_POSTGRES_URL names one already: that one is used as it is.
if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    log "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
  fi
fi
if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  log "PostgreSQL tests use TEST_POSTGRES_URL as it is (nothing is dropped)"
elif pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
  log "fresh PostgreSQL database $TEST_DB"
  psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
    -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" -c "CREATE DATABASE $TEST_DB" >/dev/null
  export TEST_POSTGRES_URL="postgresql+psycopg2://$PG_USER@$PG_HOST:$PG_PORT/$TEST_DB"
else
  log "PostgreSQL is not reachable at $PG_HOST:$PG_PORT: its tests will skip (and fail under CI=true)"
fi

# 3. Headless Chromium for the dashboard browser test (Debian's package; no browser download).
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  log "installing Debian's chromium"
  (as_root apt-get update -qq && as_root apt-get install -y -qq chromium >/dev/null) \
    || log "could not install chromium: the browser test will skip (and fail under CI=true)"
fi

# 4. Mosquitto for the Home Assistant (MQTT) tests, which start their own broker (Debian's package).
if ! [ -x /usr/sbin/mosquitto ] && ! command -v mosquitto >/dev/null && command -v apt-get >/dev/null; then
  log "installing Debian's mosquitto"
  (as_root apt-get update -qq && as_root apt-get install -y -qq mosquitto >/dev/null) \
    || log "could not install mosquitto: the MQTT tests will skip (and fail under CI=true)"
fi

# 5. Lint and format (ruff, configured in pyproject.toml), then the suite. pytest exits 5 when it
# collected nothing: that is a failure here too.
log "ruff check and ruff format --check"
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
log "running the tests"
exec .venv/bin/python -m pytest "$@"
