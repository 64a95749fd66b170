# SPDX-License-Identifier: MIT
#
# Shared by the bench/run-*.sh scripts (sourced, not run): build the
# daemon and the benchmarks in a release build, and start a daemon on a
# free loopback port with a temporary data directory under $TMPDIR
# (default /var/tmp, so that fsync hits a real disk).
#
#   bench_build TARGET...     build into $build (build-bench/ or $BENCH_BUILD_DIR)
#   bench_start BIN           start BIN; sets $data, $port, $pid, $url
#   bench_start_earlier BIN   the same for the earlier server's binary (built
#                             as bench/README.md says)
#   bench_parse_args USAGE OPTIONS ARGS...
#                             those of --runs N, --clients N, --server BIN
#                             and --earlier BIN named in OPTIONS into $runs,
#                             $clients, $bin and $earlier (preset the
#                             defaults); anything else prints USAGE, exits
#   bench_start_server        start $earlier's binary, or $bin, or the
#                             release build (bench_build verstak-sync-server)
#   bench_device_token        write a user and a device into $data/server.db
#                             (either server's schema); prints the device's
#                             bearer token
#   bench_stop                stop it and remove $data (also on exit)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
data=
pid=

bench_build() {
        if [ -f "$build/build.ninja" ]; then
                meson configure "$build" -Dbench=true >/dev/null
        else
                meson setup "$build" "$root" -Dbench=true -Dbuildtype=release >/dev/null
        fi
        ninja -C "$build" "$@" >/dev/null
}

bench_stop() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                pid=
        fi
        if [ -n "$data" ]; then
                rm -rf "$data"
                data=
        fi
}
trap bench_stop EXIT INT TERM

bench_start() {
        local bin=$1
        data=$(mktemp -d "${TMPDIR:-/var/tmp}/verstak-bench-XXXXXX")
        cat >"$data/config.yml" <<YAML
trusted_proxies: ["127.0.0.1"]
limits:
  max_blob_bytes: 134217728
YAML
        # A benchmark run from a root shell keeps root, unless BENCH_USER
        # names a user to drop to as the service does (the daemon then
        # opens its database readers as the load needs them; as root it
        # opens them all at start-up).
        local root_args=()
        if [ "$(id -u)" -eq 0 ]; then
                if [ -n "${BENCH_USER:-}" ]; then
                        printf 'server:\n  user: %s\n  group: %s\n' "$BENCH_USER" \
                                "$(id -gn "$BENCH_USER")" >>"$data/config.yml"
                else
                        root_args=(--allow-root)
                fi
        fi
        launch_ours() {
                "$bin" --data "$data" --port "$1" --log-level warning "${root_args[@]}" \
                        2>>"$data/daemon.log" &
        }
        bench_launch launch_ours
}

bench_start_earlier() {
        local bin=$1
        data=$(mktemp -d "${TMPDIR:-/var/tmp}/verstak-bench-XXXXXX")
        printf 'trusted_proxies: ["127.0.0.1"]\n' >"$data/config.yml"
        launch_earlier() {
                "$bin" --data "$data" --listen "127.0.0.1:$1" 2>>"$data/daemon.log" &
        }
        bench_launch launch_earlier
}

# Run LAUNCHER PORT (which starts the server in the background) on one
# port after another until the server answers /livez and has created its
# database; sets $port, $pid and $url.
bench_launch() {
        local launcher=$1
        for port in $(seq 47800 47830); do
                "$launcher" "$port"
                pid=$!
                for _ in $(seq 1 100); do
                        if curl -fsS -o /dev/null "http://127.0.0.1:$port/livez" 2>/dev/null &&
                                [ -s "$data/server.db" ]; then
                                url=http://127.0.0.1:$port
                                return 0
                        fi
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.05
                done
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                pid=
        done
        echo "the server did not start; see $data/daemon.log" >&2
        cat "$data/daemon.log" >&2
        exit 1
}

bench_parse_args() {
        local usage=$1 options=" $2 "
        shift 2
        while [ $# -gt 0 ]; do
                case $options in
                *" $1 "*) [ $# -ge 2 ] || set -- --missing-value ;;
                *) set -- --unknown ;;
                esac
                case $1 in
                --runs) runs=$2; shift 2 ;;
                --clients) clients=$2; shift 2 ;;
                --server) bin=$2; shift 2 ;;
                --earlier) earlier=$2; shift 2 ;;
                *) echo "usage: $usage" >&2; exit 2 ;;
                esac
        done
}

bench_start_server() {
        if [ -n "${earlier:-}" ]; then
                bench_start_earlier "$earlier"
                return
        fi
        if [ -z "${bin:-}" ]; then
                bench_build verstak-sync-server
                bin=$build/verstak-sync-server
        fi
        bench_start "$bin"
}

bench_device_token() {
        python3 - "$data/server.db" <<'PY'
import hashlib, secrets, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
token = secrets.token_hex(32)
db.executescript(
    "INSERT OR IGNORE INTO server_users (id, username, email, password_hash, confirmed,"
    " blocked, created_at) VALUES ('bench-user', 'bench', 'bench@example.com', '!', 1, 0,"
    " '2026-01-01T00:00:00Z');"
    "INSERT INTO server_devices (id, name, api_key, token_hash, user_id, vault_id, created_at)"
    " VALUES ('bench-device', 'bench', 'disabled:bench-device', '%s', 'bench-user', 'bench',"
    " '2026-01-01T00:00:00Z');" % hashlib.sha256(token.encode()).hexdigest())
db.commit()
print(token)
PY
}
