#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Push and pull through one daemon on SQLite, one on PostgreSQL and three
# sharing one PostgreSQL database (bench/multi_bench.c), and print the
# table.  The cluster is a throwaway one (scripts/pg-cluster.sh) under
# /var/tmp, made durable like a real one (fsync, synchronous_commit and
# full_page_writes on), as the SQLite daemon is (synchronous=FULL); the
# daemons' data directories are under /var/tmp too.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/daemon.sh
bench_build verstak-sync-server bench/multi-bench

VERSTAK_PG_DIR=$(mktemp -d /var/tmp/verstak-bench-pg-XXXXXX)
export VERSTAK_PG_DIR
trap 'scripts/pg-cluster.sh stop; bench_stop' EXIT INT TERM
scripts/pg-cluster.sh start
url=$(scripts/pg-cluster.sh url)
psql -q "$url" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
        -c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null
postmaster=$(head -n1 "$VERSTAK_PG_DIR/data/postmaster.pid")

ulimit -n 4096
TMPDIR=/var/tmp VERSTAK_SERVER_BIN="$build/verstak-sync-server" VERSTAK_BENCH_PG_URL="$url" \
        VERSTAK_BENCH_PG_PID="$postmaster" "$build/bench/multi-bench"
