#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The commented example configuration (examples/config.yml, shipped in
# /usr/share/doc/verstak-sync-server/examples/): the daemon accepts it as
# it is (--check-config) and with every commented-out key switched on, and
# it mentions every key the configuration parser knows (config.c).
#
# Usage: check-example-config.sh SOURCE_ROOT SERVER_BINARY
set -eu

src=$1
bin=$2
example=$src/examples/config.yml
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$bin" --check-config --allow-root --data "$tmp/data" --config "$example" >"$tmp/out" 2>&1; then
  echo "the example configuration is refused:" >&2
  cat "$tmp/out" >&2
  fail=1
fi

# Every key: the sections' keys the parser names, and the top-level ones.
parser=$(ls "$src/src/config/config.c" "$src/src/server/config.c" 2>/dev/null | head -n 1)
keys="$(grep -oE '"[a-z]+\.[a-z_]+"' "$parser" | tr -d '"' | sort -u)
listen port public_url trusted_proxies log_level admin"

# Switch on every commented-out "key: value" line of a known key (not the
# admin list, whose value is on the following lines).
cp "$example" "$tmp/all.yml"
for k in $keys; do
  sed -i -E "s/^( *)# (${k#*.}): (.+)\$/\\1\\2: \\3/" "$tmp/all.yml"
done
if ! "$bin" --check-config --allow-root --data "$tmp/data" --config "$tmp/all.yml" >"$tmp/out" 2>&1; then
  echo "the example configuration with every key switched on is refused:" >&2
  cat "$tmp/out" >&2
  fail=1
fi

for k in $keys; do
  leaf=${k#*.}
  grep -qE "^ *(# *)?$leaf:" "$example" || { echo "examples/config.yml does not mention $k" >&2; fail=1; }
done
[ "$fail" -eq 0 ] && echo "example configuration: valid, every key present"
exit "$fail"
