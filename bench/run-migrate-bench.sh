#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Time `verstak-sync-server migrate` on a big data directory: the daemon
# creates one (release build), sqlite3 fills it with USERS users, two
# devices each, OPS operations and AUDIT audit entries, and the command
# copies it into an empty database of a throwaway PostgreSQL cluster
# (scripts/pg-cluster.sh: unix socket, fsync off).  Prints rows, wall
# time, rows per second, and the CPU time of the command and of the
# PostgreSQL server processes (utime + stime of reaped children of the
# postmaster, from /proc), per row: on a busy machine CPU time is the
# figure least disturbed.
#
#   bench/run-migrate-bench.sh            USERS=1000 OPS=200000 AUDIT=50000
set -euo pipefail

. "$(dirname "$0")/daemon.sh"
bench_build verstak-sync-server
bin=$build/verstak-sync-server
users=${USERS:-1000}
ops=${OPS:-200000}
audit=${AUDIT:-50000}

# The daemon creates the data directory and its schema (on a unix socket:
# no port to share with other daemons on the machine), then stops.
data=$(mktemp -d "${TMPDIR:-/var/tmp}/verstak-bench-XXXXXX")
root_args=()
[ "$(id -u)" -eq 0 ] && root_args=(--allow-root)
"$bin" --data "$data" --listen "unix:$data/http.sock" --log-level warning "${root_args[@]}" \
        2>>"$data/daemon.log" &
pid=$!
for _ in $(seq 200); do
        curl -fsS -o /dev/null --unix-socket "$data/http.sock" http://localhost/livez 2>/dev/null &&
                break
        sleep 0.05
done
kill "$pid"
wait "$pid" || true
pid=

sqlite3 "$data/server.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $users)
INSERT INTO server_users (id, username, email, password_hash, confirmed, created_at)
  SELECT 'usr_' || i, 'user' || i, 'u' || i || '@example.test', 'x', 1, '2026-01-01T00:00:00Z'
  FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2 * $users)
INSERT INTO server_devices (id, name, api_key, token_hash, user_id, vault_id, created_at)
  SELECT 'dev_' || i, 'desktop', 'key' || i, 'hash' || i, 'usr_' || (i % $users + 1),
    'vault-' || (i % 2), '2026-01-01T00:00:00Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ops)
INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id, entity_type,
    entity_id, op_type, payload_json, created_at)
  SELECT i, 'op' || i, 'usr_' || (i % $users + 1), 'vault-' || (i % 2),
    'dev_' || (i % (2 * $users) + 1), 'note', 'notes/' || (i % 5000) || '.md', 'update',
    '{"text":"a typical small operation payload of about eighty bytes..."}',
    '2026-01-01T00:00:00Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $audit)
INSERT INTO server_audit_log (event_type, user_id, message, created_at)
  SELECT 'login', 'usr_' || (i % $users + 1), 'signed in', '2026-01-01T00:00:00Z' FROM n;
UPDATE server_meta SET value = $ops WHERE key IN ('last_sequence', 'ops_count');
SQL

export VERSTAK_PG_DIR=${TMPDIR:-/var/tmp}/verstak-bench-pg-$$
cluster_stop() {
        "$root/scripts/pg-cluster.sh" stop || true
        bench_stop
}
trap cluster_stop EXIT INT TERM
"$root/scripts/pg-cluster.sh" start
base=$("$root/scripts/pg-cluster.sh" url)
psql -q "$base" -c "CREATE DATABASE migrate_bench"
target=${base/\/postgres\?//migrate_bench?}
postmaster=$(head -n1 "$VERSTAK_PG_DIR/data/postmaster.pid")

# utime + stime of a process and of its reaped children, in clock ticks.
ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

pg_before=$(ticks "$postmaster")
start=$(date +%s.%N)
out=$(/usr/bin/time -f "%U %S" -o "$data/migrate.time" \
        "$bin" migrate --from-data "$data" --to "$target" 2>/dev/null)
end=$(date +%s.%N)
# The command's server processes are counted once the postmaster reaped them.
for _ in $(seq 100); do
        busy=$(psql -qAt "$base" -c \
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'migrate_bench'")
        [ "$busy" = 0 ] && break
        sleep 0.1
done
pg_after=$(ticks "$postmaster")
cmd_cpu=$(awk '{ print $1 + $2 }' "$data/migrate.time")

rows=$(sed -n 's/^Copied \([0-9]*\) rows.*/\1/p' <<<"$out")
awk -v rows="$rows" -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" -v cmd="$cmd_cpu" \
        -v pg="$(((pg_after - pg_before)))" -v hz="$hz" -v size="$(stat -c %s "$data/server.db")" '
BEGIN {
        printf "migrate: %d rows (server.db %.1f MiB) in %.1f s, %.0f rows/s\n",
                rows, size / 1048576, wall, rows / wall
        printf "  command CPU %.1f s (%.1f us/row), PostgreSQL CPU %.1f s (%.1f us/row)\n",
                cmd, cmd * 1e6 / rows, pg / hz, pg / hz * 1e6 / rows
}'
