#!/usr/bin/env bash
# Start a local PostgreSQL server for the store tests and print its URL on stdout (only that;
# progress goes to stderr). Idempotent: installs Debian's `postgresql` if missing, creates a
# cluster if there is none, starts it, and creates the test role and database once.
#
#   export DSC_TEST_POSTGRES_URL=$(bash .ci/start-postgres.sh)
#
# Needs root (apt-get, and `runuser -u postgres` for the superuser statements). The role's
# password is for a throwaway test database on 127.0.0.1 only; override with the variables below.
set -euo pipefail
ROLE="${DSC_TEST_PG_ROLE:-dsc_test}"
PASSWORD="${DSC_TEST_PG_PASSWORD:-dsc_test}"
DB="${DSC_TEST_PG_DB:-dsc_test}"
log() { echo "start-postgres: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    log "creating cluster $version/main"
    pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting cluster $version/main"
    pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')

psql_su() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
for _ in $(seq 1 30); do  # the server accepts connections a moment after it starts
    psql_su -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 1
done
if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    log "creating role $ROLE"
    psql_su -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    log "creating database $DB"
    psql_su -c "CREATE DATABASE $DB OWNER $ROLE ENCODING 'UTF8' TEMPLATE template0" >&2
fi
log "ready on 127.0.0.1:$port"
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
