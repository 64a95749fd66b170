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
        local bin=$1 up
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
        # Try ports until the daemon answers /livez.
        for port in $(seq 47800 47830); do
                "$bin" --data "$data" --port "$port" --log-level warning "${root_args[@]}" \
                        2>>"$data/daemon.log" &
                pid=$!
                up=
                for _ in $(seq 1 100); do
                        if curl -fsS -o /dev/null "http://127.0.0.1:$port/livez" 2>/dev/null; then
                                up=1
                                break
                        fi
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.05
                done
                [ -n "$up" ] && break
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                pid=
        done
        if [ -z "$pid" ]; then
                echo "the daemon did not start; see $data/daemon.log" >&2
                cat "$data/daemon.log" >&2
                exit 1
        fi
        url=http://127.0.0.1:$port
}

bench_start_earlier() {
        local bin=$1
        data=$(mktemp -d "${TMPDIR:-/var/tmp}/verstak-bench-XXXXXX")
        printf 'trusted_proxies: ["127.0.0.1"]\n' >"$data/config.yml"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                port=$((20000 + RANDOM % 20000))
                "$bin" --data "$data" --listen "127.0.0.1:$port" 2>"$data/server.log" &
                pid=$!
                for _ in $(seq 100); do
                        if curl -fsS -o /dev/null "http://127.0.0.1:$port/livez" 2>/dev/null &&
                                [ -s "$data/server.db" ]; then
                                url=http://127.0.0.1:$port
                                return 0
                        fi
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                pid=
        done
        echo "the earlier server did not start; see $data/server.log" >&2
        cat "$data/server.log" >&2
        exit 1
}
