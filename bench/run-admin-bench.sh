#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build an optimised daemon, seed a big server (bench/admin_seed.py) and
# time every console API answer (bench/admin_bench.py): p50 and p95
# wall-clock, and the server's CPU time per answer.  The seeded data
# directory is kept in build-release/admin-bench-data for reruns (delete
# it to seed again).  Seeding took about 10 minutes on a 2-core machine
# shared with other builds (it prints how long); a rerun on the seeded
# data takes well under a minute.  ROUNDS (default 40) answers per row.
# With VERSTAK_BENCH_PG_URL, a PostgreSQL database the benchmark may fill
# (its role a superuser, scripts/pg-cluster.sh url), the same on
# PostgreSQL: seeded by bench/admin_seed_pg.sql, data directory
# build-release/admin-bench-pg (delete the database's rows to seed again).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build-release ] || meson setup build-release -Dbuildtype=release
ninja -C build-release verstak-sync-server
bin=$PWD/build-release/verstak-sync-server
pg=${VERSTAK_BENCH_PG_URL:-}
data=$PWD/build-release/admin-bench-data
if [ -n "$pg" ]; then
        data=$PWD/build-release/admin-bench-pg
        mkdir -p "$data"
        printf 'database:\n  url: "%s"\n' "$pg" > "$data/config.yml"
        chmod 600 "$data/config.yml"
        seeded() { [ "$(psql -At "$pg" -c 'SELECT count(*) FROM server_users' 2>/dev/null)" \
                     -gt 0 ] 2>/dev/null; }
else
        seeded() { [ -e "$data/server.db" ]; }
fi
pass=$PWD/build-release/admin-bench-pass
port=${PORT:-47990}
printf 'bench-Admin-pass\n' > "$pass"
start() {
        "$bin" --data "$data" --port "$port" --allow-root --log-level warning \
                --admin-user bench --admin-pass-file "$pass" &
        pid=$!
        for _ in $(seq 600); do
                curl -fs "http://127.0.0.1:$port/livez" >/dev/null && return 0
                sleep 0.1
        done
        echo "the daemon did not start" >&2
        exit 1
}
stop() { kill "$pid"; wait "$pid" || true; }
if ! seeded; then
        start
        stop
        echo "seeding ${pg:+the PostgreSQL database of }$data (a few minutes)..."
        seed_start=$(date +%s)
        if [ -n "$pg" ]; then
                psql -q -v ON_ERROR_STOP=1 -f bench/admin_seed_pg.sql "$pg"
        else
                python3 bench/admin_seed.py "$data/server.db"
        fi
        echo "seeded in $(($(date +%s) - seed_start)) s"
fi
start
trap stop EXIT
python3 bench/admin_bench.py "http://127.0.0.1:$port" bench "$pass" "${ROUNDS:-40}" "$pid"
