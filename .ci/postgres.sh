#!/usr/bin/env bash
# Prints the URL for PINCTL_TEST_PG. Starts the local PostgreSQL cluster for the tests (nothing runs it before CI) and makes the test
# role: `pinctl`, password `pinctl-test`, allowed to create the databases each test uses and drops.
# Only for this throw-away test server on 127.0.0.1.
set -euo pipefail
cluster=$(pg_lsclusters -h | head -1)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_createcluster "$version" main >/dev/null
  cluster=$(pg_lsclusters -h | head -1)
fi
read -r version name port status _ <<<"$cluster"
if [ "$status" != "online" ]; then pg_ctlcluster "$version" "$name" start; fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname = 'pinctl'\"" | grep -q 1 ||
  su postgres -c "psql -q -p $port -c \"CREATE ROLE pinctl LOGIN CREATEDB PASSWORD 'pinctl-test'\""
# DROP DATABASE ... WITH (FORCE) at a test's end must be able to end an autovacuum worker busy in it.
su postgres -c "psql -q -p $port -c \"GRANT pg_signal_backend TO pinctl\"" >/dev/null
echo "PostgreSQL $version/$name on 127.0.0.1:$port" >&2
# The admin URL the tests use (PINCTL_TEST_PG).
echo "postgres://pinctl:pinctl-test@127.0.0.1:$port/postgres"
