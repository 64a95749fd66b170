#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package from this checkout into ./dist/.  The Debian
# packaging lives in packaging/debian/ and is copied to a scratch tree, so
# the checkout itself stays clean.  The build runs the unit suites and the
# integration suites that need no root (DEB_BUILD_OPTIONS=nocheck skips
# them and builds without the test dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
missing=()
for p in debhelper dpkg-dev fakeroot; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
work=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$work" "$log"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$work" 2>/dev/null || cp -R . "$work"
rm -rf "$work/debian" "$work/build" "$work/build-"*
cp -R packaging/debian "$work/debian"
# The package build runs the test suites (debian/rules, dh_auto_test):
# show their summary, and the whole log when anything fails.
if ! (cd "$work" && dpkg-buildpackage -b -us -uc >"$log" 2>&1); then
  tail -n 200 "$log" >&2
  exit 1
fi
grep -E '^(Ok|Fail|Skipped|Timeout): ' "$log" || true
mkdir -p dist
mv "$work"/../verstak-sync-server_*.deb dist/ 2>/dev/null || mv "$(dirname "$work")"/verstak-sync-server_*.deb dist/
rm -f "$(dirname "$work")"/verstak-sync-server_*.{buildinfo,changes}
ls -l dist/*.deb
