#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# 64 MiB uploads with the curl command line (`curl -F file=@…`), one after
# the other, as the performance figures of the earlier server were taken:
# against this daemon (a release build in build-bench/, or
# $BENCH_BUILD_DIR; --server BIN runs another build of it), or with
# --earlier BIN against the earlier server's binary (built as
# bench/README.md says), started on a data directory of its own under
# $TMPDIR (default /var/tmp).  A device is written into the
# database directly, as bench/blob_bench.c does.  Prints, per upload,
# curl's MB/s, the server's CPU time (user + system) per MiB, and the CPU
# time per MiB of the whole machine (curl, the kernel's writeback and
# network work included) with how busy its CPUs were: on a machine where
# client and server share the cores, that last pair shows the ceiling.
#
# The file curl sends is kept in memory (/dev/shm when it is a tmpfs):
# some virtual machines give their page cache back to the host within
# seconds, and curl reading the file from disk left the server idle.
#
#   bench/run-upload-curl.sh [--runs N] [--earlier BIN | --server BIN]
set -eu

. "$(dirname "$0")/daemon.sh"
runs=5
earlier=
bin=
bench_parse_args "$0 [--runs N] [--earlier BIN | --server BIN]" "--runs --earlier --server" "$@"

bench_start_server

token=$(bench_device_token)

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
        file=$(mktemp /dev/shm/verstak-upload-XXXXXX)
        trap 'rm -f "$file"; bench_stop' EXIT INT TERM
else
        file="$data/upload-64m.bin"
fi
head -c $((64 << 20)) /dev/urandom >"$file"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Busy and total ticks of all CPUs (steal time counts as neither).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK)

echo "64 MiB uploads with curl against $url (server pid $pid)"
for i in $(seq "$runs"); do
        cat "$file" >/dev/null
        before=$(cpu_ticks)
        read -r busy0 total0 < <(machine_ticks)
        out=$(curl -sS -o /dev/null -w '%{speed_upload} %{http_code}' \
                -H "Authorization: Bearer $token" -F "file=@$file" "$url/api/v1/blobs/")
        after=$(cpu_ticks)
        read -r busy1 total1 < <(machine_ticks)
        set -- $out
        [ "$2" = 200 ] || { echo "upload $i: HTTP $2" >&2; exit 1; }
        awk -v i="$i" -v speed="$1" -v ticks=$((after - before)) -v hz="$hz" \
                -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) 'BEGIN {
                printf "upload %d: %4.0f MB/s, server CPU %.2f ms/MiB, machine CPU %.2f ms/MiB (%.0f %% busy)\n",
                        i, speed / 1048576, ticks * 1000 / hz / 64, busy * 1000 / hz / 64,
                        total ? 100 * busy / total : 0 }'
done
