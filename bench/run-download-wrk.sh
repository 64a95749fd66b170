#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# 1 MiB blob downloads with wrk, as the performance figures of the
# earlier server were taken: one blob uploaded with curl, then wrk with 8
# kept-alive connections for 5 s on it, against this daemon (a release
# build in build-bench/, or $BENCH_BUILD_DIR; --server BIN runs another
# build of it) or with --earlier BIN against the earlier server's binary
# (built as bench/README.md says).  Prints, per run, MB/s and the server's
# CPU time per MiB sent.  Needs wrk (Debian package wrk).
#
#   bench/run-download-wrk.sh [--runs N] [--earlier BIN | --server BIN]
set -eu

. "$(dirname "$0")/daemon.sh"
runs=3
earlier=
bin=
bench_parse_args "$0 [--runs N] [--earlier BIN | --server BIN]" "--runs --earlier --server" "$@"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

bench_start_server
token=$(bench_device_token)
head -c $((1 << 20)) /dev/urandom >"$data/download-1m.bin"
sha=$(sha256sum "$data/download-1m.bin" | cut -d' ' -f1)
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
        -F "file=@$data/download-1m.bin" "$url/api/v1/blobs/")
[ "$code" = 200 ] || { echo "upload: HTTP $code" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

echo "1 MiB downloads with wrk (8 connections, 5 s) against $url (server pid $pid)"
for i in $(seq "$runs"); do
        before=$(cpu_ticks)
        out=$(wrk -t2 -c8 -d5s -H "Authorization: Bearer $token" "$url/api/v1/blobs/$sha")
        after=$(cpu_ticks)
        if echo "$out" | grep -q "Non-2xx"; then
                echo "run $i: answers other than 200" >&2
                exit 1
        fi
        n=$(echo "$out" | awk '/requests in/ {print $1}')
        echo "$out" | awk -v i="$i" -v n="$n" -v ticks=$((after - before)) -v hz="$hz" '
                /Requests\/sec/ {
                        printf "run %d: %4.0f MB/s, server CPU %.2f ms/MiB\n", i, $2,
                                ticks * 1000 / hz / n }'
done
