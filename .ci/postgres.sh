#!/usr/bin/env bash
# Start the local PostgreSQL 15 cluster and make a test database for the store's tests.
# Installs nothing. Idempotent: safe to run on every `make test`. Prints the URL to export as
# INFERWATCH_TEST_PG_URL (the tests default to the same URL when it is unset).
set -euo pipefail

version="${INFERWATCH_PG_VERSION:-15}"
cluster="${INFERWATCH_PG_CLUSTER:-main}"
database="${INFERWATCH_TEST_PG_DB:-inferwatch_test}"
socket_dir="/var/run/postgresql"
role="$(id -un)"

# Run a command as the postgres OS user (root uses su; the postgres user runs it directly).
as_postgres() {
  if [[ "$role" == "postgres" ]]; then
    bash -c "$1"
  elif [[ $(id -u) -eq 0 ]]; then
    su postgres -c "$1"
  else
    sudo -n -u postgres bash -c "$1"
  fi
}

if ! pg_ctlcluster "$version" "$cluster" status >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    pg_ctlcluster "$version" "$cluster" start
  else
    as_postgres "pg_ctlcluster $version $cluster start"
  fi
fi

for _ in $(seq 1 30); do
  pg_isready -q -h "$socket_dir" && break
  sleep 1
done
pg_isready -q -h "$socket_dir" || { echo "postgres.sh: cluster $version/$cluster did not become ready" >&2; exit 1; }

if [[ "$(as_postgres "psql -h $socket_dir -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$role'\"")" != "1" ]]; then
  as_postgres "createuser -h $socket_dir --superuser '$role'"
fi
if [[ "$(as_postgres "psql -h $socket_dir -tAc \"SELECT 1 FROM pg_database WHERE datname = '$database'\"")" != "1" ]]; then
  as_postgres "createdb -h $socket_dir --owner '$role' '$database'"
fi

echo "postgresql+psycopg://${role}@/${database}?host=${socket_dir}"
