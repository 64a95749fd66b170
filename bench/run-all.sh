#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The whole benchmark set, one scenario after the other: pull pages, push,
# health, a pairing burst and idle long-poll waiters (bench/sync_bench.c),
# then 1 MiB and 64 MiB uploads and downloads (bench/blob_bench.c).  Each
# scenario prints its figures, the daemon's CPU time per request, op or
# MiB (utime + stime from /proc/PID/stat: the figure least disturbed by a
# busy machine) and its RSS, RssAnon and PSS.
#
#   bench/run-all.sh BASE_URL PID DATA_DIR
#       against a running daemon: PID is its process, DATA_DIR its data
#       directory (benchmark users and a device are written into its
#       server.db; it must list 127.0.0.1 in trusted_proxies and accept
#       64 MiB blobs)
#   bench/run-all.sh [--server BIN]
#       build (release, build-bench/ or $BENCH_BUILD_DIR), start BIN or the
#       built daemon on a free loopback port with a fresh data directory,
#       run everything, stop it
set -eu

. "$(dirname "$0")/daemon.sh"
bench_build bench/sync-bench bench/blob-bench verstak-sync-server

if [ $# -ge 3 ]; then
        url=$1
        pid=$2
        dir=$3
        # Not ours to stop or remove.
        trap - EXIT INT TERM
else
        bin=$build/verstak-sync-server
        if [ "${1:-}" = "--server" ] && [ -n "${2:-}" ]; then
                bin=$2
        fi
        bench_start "$bin"
        dir=$data
fi
ulimit -n 4096 2>/dev/null || true

echo "== daemon pid $pid at $url"
echo "== sync: push, pull, health, pairing, long poll"
"$build/bench/sync-bench" --url "$url" --pid "$pid" --data "$dir"
echo
echo "== blobs"
"$build/bench/blob-bench" --url "$url" --data "$dir" --pid "$pid" --clients 8
