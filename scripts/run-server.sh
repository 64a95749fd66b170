#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the build dependencies, build, and run the server in the
# foreground on its embedded default: SQLite + blobs in ./server-data,
# listening on 127.0.0.1:47732.  Extra arguments go to the server, e.g.
#   scripts/run-server.sh --admin-user admin --admin-pass-stdin
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
[ -d build ] || meson setup build
ninja -C build verstak-sync-server verstak-sync-mailer
args=(--data ./server-data)
# A developer run from a root shell keeps root; a service drops privileges.
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
exec ./build/verstak-sync-server "${args[@]}" "$@"
