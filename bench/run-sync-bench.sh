#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build an optimised daemon and run the sync benchmark against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
[ -d build-release ] || meson setup build-release -Dbuildtype=release
ninja -C build-release verstak-sync-server bench/sync-bench
ulimit -n 4096
VERSTAK_SERVER_BIN="$PWD/build-release/verstak-sync-server" ./build-release/bench/sync-bench
