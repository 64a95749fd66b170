#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build an optimised daemon and run the sync benchmark against it, or
# against another binary; further arguments go to sync-bench
# (--push-only, --push-clients N, --spread, ...).
#   bench/run-sync-bench.sh [--server BIN] [SYNC-BENCH ARGS...]
set -euo pipefail
bin=
if [ "${1:-}" = "--server" ] && [ -n "${2:-}" ]; then
        bin=$(realpath "$2")
        shift 2
fi
cd "$(dirname "$0")/.."
scripts/deps.sh test
[ -d build-release ] || meson setup build-release -Dbuildtype=release
ninja -C build-release verstak-sync-server bench/sync-bench
ulimit -n 4096
VERSTAK_SERVER_BIN="${bin:-$PWD/build-release/verstak-sync-server}" ./build-release/bench/sync-bench "$@"
