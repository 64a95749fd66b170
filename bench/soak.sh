#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build an optimised daemon and run the hostile-client soak against it
# (bench/soak.py): SECONDS (default 600) of mixed normal load with every
# attacker of docs/hostile-inputs.md beside it, after QUIET seconds of the
# normal load alone.  A short run (bench/soak.sh 30 10) is a smoke check.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build-release ] || meson setup build-release -Dbuildtype=release
ninja -C build-release verstak-sync-server
exec python3 bench/soak.py "$PWD/build-release/verstak-sync-server" "${1:-600}" "${2:-}"
