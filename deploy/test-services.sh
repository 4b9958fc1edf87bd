#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 with a `stratus` role that may
# create databases, installing and starting PostgreSQL only when none answers.
# Redis needs nothing here: the tests reuse 127.0.0.1:6379 when it answers and
# start a private redis-server otherwise.
set -euo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
PGURL="postgresql://stratus:stratus@127.0.0.1:5432/postgres"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        echo "test-services: installing postgresql"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    fi
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    echo "test-services: starting PostgreSQL $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

if ! psql "$PGURL" -qtAc "select 1" >/dev/null 2>&1; then
    sql="DO \$\$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stratus') THEN
             CREATE ROLE stratus LOGIN PASSWORD 'stratus' CREATEDB;
           ELSE
             ALTER ROLE stratus LOGIN PASSWORD 'stratus' CREATEDB;
           END IF;
         END \$\$;"
    # Trust auth over TCP (CI), else peer auth as the postgres system user.
    psql -h 127.0.0.1 -U postgres -d postgres -qc "$sql" 2>/dev/null \
        || $SUDO runuser -u postgres -- psql -d postgres -qc "$sql"
    psql "$PGURL" -qtAc "select 1" >/dev/null
fi
echo "test-services: PostgreSQL ready ($PGURL)"
