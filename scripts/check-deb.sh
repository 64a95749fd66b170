#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package from a clean tree (scripts/build-deb.sh copies
# the tracked files only), then check it: lintian must report no error and
# no warning (packaging/debian/*.lintian-overrides names, with reasons, the
# few that cannot be fixed), and `systemd-analyze verify` must accept the
# units as installed, run against the unpacked package.  Part of
# scripts/test.sh (VERSTAK_SKIP_DEB=1 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

rm -f dist/verstak-sync-server_*.deb
# The package build runs the unit suites and the integration suites that
# need no root (dh_auto_test) on what it built.
DEB_BUILD_OPTIONS="parallel=2" scripts/build-deb.sh >/dev/null
deb=$(ls dist/verstak-sync-server_*.deb)

echo "lintian $deb"
lintian --fail-on error,warning --suppress-tags-from-file /dev/null "$deb"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
units=()
for u in "$root"/lib/systemd/system/*.service "$root"/lib/systemd/system/*.socket \
         "$root"/usr/lib/systemd/system/*.service "$root"/usr/lib/systemd/system/*.socket; do
  [ -e "$u" ] && units+=("$u")
done
[ ${#units[@]} -eq 5 ] || { echo "expected 5 units in the package, found ${#units[@]}" >&2; exit 1; }
# The units name /usr/sbin/verstak-sync-server and the mailer in libexec,
# which exist in the unpacked tree: verify copies that point there.
work=$(mktemp -d)
trap 'rm -rf "$root" "$work"' EXIT
for u in "${units[@]}"; do
  sed -e "s|/usr/sbin/verstak-sync-server|$root/usr/sbin/verstak-sync-server|g" \
      -e "s|/usr/libexec/verstak-sync-mailer|$root/usr/libexec/verstak-sync-mailer|g" \
      "$u" >"$work/$(basename "$u")"
done
out=$(cd "$work" && systemd-analyze verify --man=no ./*.service ./*.socket 2>&1) || {
  echo "$out" >&2
  exit 1
}
if [ -n "$out" ]; then
  echo "systemd-analyze verify complained:" >&2
  echo "$out" >&2
  exit 1
fi
test -f "$root/usr/share/doc/verstak-sync-server/examples/config.yml"
test -f "$root/usr/share/doc/verstak-sync-server/examples/postgresql-tcp.conf"
test -f "$root/usr/lib/systemd/catalog/verstak-sync-server.catalog" ||
  test -f "$root/lib/systemd/catalog/verstak-sync-server.catalog"
echo "Package checks passed: $deb"
