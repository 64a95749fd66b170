#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what building (and, with "test", testing) verstak-sync-server
# needs on Debian 12.  Idempotent: packages already present are skipped.
set -euo pipefail

build_pkgs=(
  build-essential meson ninja-build pkg-config git
  libmicrohttpd-dev libsqlite3-dev libjansson-dev libsodium-dev libsystemd-dev
  libseccomp-dev libyaml-dev libcrypt-dev libcurl4-openssl-dev
  nettle-dev
)
test_pkgs=(
  libcmocka-dev sqlite3 curl python3 python3-aiosmtpd systemd clang-format
  strace procps passwd openssl util-linux faketime
  clang libclang-rt-14-dev
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "test" ]; then
  want+=("${test_pkgs[@]}")
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
