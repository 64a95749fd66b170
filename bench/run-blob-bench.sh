#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Blob benchmark: builds the daemon and bench/blob_bench.c (a release build
# in build-bench/, or $BENCH_BUILD_DIR), starts the daemon on a free
# loopback port with a temporary data directory (under $TMPDIR, default
# /var/tmp, so that fsync and the copy baseline hit a real disk), runs the
# benchmark and prints its figures, then stops the daemon and removes the
# data directory.  Traffic stays on 127.0.0.1.
#
#   bench/run-blob-bench.sh [--clients N]
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
clients=32
if [ "${1:-}" = "--clients" ] && [ -n "${2:-}" ]; then
        clients=$2
fi

if [ -f "$build/build.ninja" ]; then
        meson configure "$build" -Dbench=true >/dev/null
else
        meson setup "$build" "$root" -Dbench=true -Dbuildtype=release >/dev/null
fi
ninja -C "$build" verstak-sync-server bench/blob-bench >/dev/null

data=$(mktemp -d "${TMPDIR:-/var/tmp}/verstak-blob-bench-XXXXXX")
pid=
cleanup() {
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        fi
        rm -rf "$data"
}
trap cleanup EXIT INT TERM

cat >"$data/config.yml" <<YAML
limits:
  max_blob_bytes: 134217728
YAML

# A benchmark run from a root shell keeps root (a service drops privileges).
root_args=()
[ "$(id -u)" -eq 0 ] && root_args=(--allow-root)

# Try ports until the daemon answers /livez.
for port in $(seq 47800 47830); do
        "$build/verstak-sync-server" --data "$data" --port "$port" --log-level warning \
                "${root_args[@]}" \
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
        echo "run-blob-bench: the daemon did not start; see $data/daemon.log" >&2
        cat "$data/daemon.log" >&2
        exit 1
fi

"$build/bench/blob-bench" --url "http://127.0.0.1:$port" --data "$data" --pid "$pid" \
        --clients "$clients"
