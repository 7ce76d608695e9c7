#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# with_pg.sh [--suite] CMD [ARG...] - run CMD against a PostgreSQL 15
# server of its own: initdb in a new temporary directory (the cluster in
# its data/), the server listening only on a Unix socket there (no TCP
# port), SR_TEST_STORE set to its connection string; the server is stopped
# and the directory removed afterwards, whatever CMD does. --suite also
# sets SR_SUITE_STORE, which puts every vault a CLI test makes on that
# server (tests/srcli.py). As root, the server runs as the postgres user
# (it refuses root). Not a test itself.
set -eu
suite=0
if [ "${1:-}" = --suite ]; then
  suite=1
  shift
fi
bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/initdb" ]; then
  echo "with_pg.sh: PostgreSQL 15 is not installed (apt-get install postgresql-15)" >&2
  exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/sr-pg-XXXXXX")
as=""
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as="runuser -u postgres --"
fi
stop() {
  $as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT INT TERM
# The test cluster needs no durability of its own: no fsync.
$as "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
  --encoding UTF8 --locale C >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2; exit 1; }
$as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-k $dir -c listen_addresses= -c fsync=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export SR_TEST_STORE="host=$dir dbname=postgres user=postgres"
if [ "$suite" = 1 ]; then
  export SR_SUITE_STORE="$SR_TEST_STORE"
fi
"$@"
