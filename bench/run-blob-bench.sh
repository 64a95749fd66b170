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

. "$(dirname "$0")/daemon.sh"
clients=32
if [ "${1:-}" = "--clients" ] && [ -n "${2:-}" ]; then
        clients=$2
fi

bench_build verstak-sync-server bench/blob-bench
bench_start "$build/verstak-sync-server"
"$build/bench/blob-bench" --url "$url" --data "$data" --pid "$pid" --clients "$clients"
