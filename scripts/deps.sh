#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what building (and, with "test", testing) verstak-sync-server
# needs on Debian 12.  Idempotent: packages already present are skipped.
set -euo pipefail

build_pkgs=(
  build-essential meson ninja-build pkg-config git
  libmicrohttpd-dev libsqlite3-dev libjansson-dev libsodium-dev libsystemd-dev
  libseccomp-dev libyaml-dev libcrypt-dev libcurl4-openssl-dev libpq-dev
  nettle-dev
)
test_pkgs=(
  libcmocka-dev sqlite3 curl python3 python3-aiosmtpd systemd clang-format
  postgresql-15 postgresql-contrib
  strace procps passwd openssl util-linux faketime
  clang libclang-rt-14-dev
  clang-tools cppcheck
  debhelper dpkg-dev fakeroot
  chromium fonts-dejavu-core
  debhelper dpkg-dev fakeroot lintian prometheus
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "test" ]; then
  want+=("${test_pkgs[@]}")
  # The web suite runs on Node.js; any installed node and npm will do.
  command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The web suite's JavaScript dependencies (playwright-core, axe-core), as
# pinned by tests/web/package-lock.json; again only when the lock changed.
# No browser is downloaded: the tests drive Debian's chromium.
if [ "${1:-}" = "test" ]; then
  web=$(dirname "$0")/../tests/web
  stamp="$web/node_modules/.lock-sha256"
  want_sum=$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_sum" ]; then
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want_sum" > "$stamp"
  fi
fi
