#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Blob benchmark: builds the daemon and bench/blob_bench.c (a release build
# in build-bench/, or $BENCH_BUILD_DIR), starts the daemon on a free
# loopback port with a temporary data directory (under $TMPDIR, default
# /var/tmp, so that fsync and the copy baseline hit a real disk), runs the
# benchmark and prints its figures, then stops the daemon and removes the
# data directory.  Traffic stays on 127.0.0.1.  --earlier BIN runs it
# against the earlier server's binary (built as bench/README.md says).
#
#   bench/run-blob-bench.sh [--clients N] [--server BIN | --earlier BIN]
set -eu

. "$(dirname "$0")/daemon.sh"
clients=32
bin=
earlier=
bench_parse_args "$0 [--clients N] [--server BIN | --earlier BIN]" "--clients --server --earlier" "$@"

bench_build verstak-sync-server bench/blob-bench
bin=${bin:-$build/verstak-sync-server}
bench_start_server
"$build/bench/blob-bench" --url "$url" --data "$data" --pid "$pid" --clients "$clients"
