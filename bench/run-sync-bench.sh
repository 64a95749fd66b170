#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build an optimised daemon and run the sync benchmark against it, or
# against another binary, or against the earlier server's binary (built as
# bench/README.md says; its users are then stored with bcrypt, see
# sync-bench --bcrypt-users).  Further arguments go to sync-bench
# (--push-only, --push-clients N, --spread, --bcrypt-users, ...); give this
# daemon --bcrypt-users too when comparing it with the earlier server.
#   bench/run-sync-bench.sh [--server BIN | --earlier BIN] [SYNC-BENCH ARGS...]
set -euo pipefail
bin=
earlier=
if [ "${1:-}" = "--server" ] && [ -n "${2:-}" ]; then
        bin=$(realpath "$2")
        shift 2
elif [ "${1:-}" = "--earlier" ] && [ -n "${2:-}" ]; then
        earlier=$(realpath "$2")
        shift 2
fi
cd "$(dirname "$0")/.."
scripts/deps.sh test
[ -d build-release ] || meson setup build-release -Dbuildtype=release
ninja -C build-release verstak-sync-server bench/sync-bench
ulimit -n 4096
if [ -n "$earlier" ]; then
        . bench/daemon.sh
        bench_start_earlier "$earlier"
        ./build-release/bench/sync-bench --url "$url" --pid "$pid" --data "$data" \
                --bcrypt-users "$@"
        exit
fi
VERSTAK_SERVER_BIN="${bin:-$PWD/build-release/verstak-sync-server}" ./build-release/bench/sync-bench "$@"
