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
#   bench/run-blob-bench.sh [--clients N] [--server BIN]
set -eu

. "$(dirname "$0")/daemon.sh"
clients=32
bin=
while [ $# -gt 0 ]; do
        case $1 in
        --clients) clients=$2; shift 2 ;;
        --server) bin=$2; shift 2 ;;
        *) echo "usage: $0 [--clients N] [--server BIN]" >&2; exit 2 ;;
        esac
done

bench_build verstak-sync-server bench/blob-bench
bench_start "${bin:-$build/verstak-sync-server}"
"$build/bench/blob-bench" --url "$url" --data "$data" --pid "$pid" --clients "$clients"
