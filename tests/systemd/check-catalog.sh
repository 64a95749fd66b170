#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The journal message catalog (systemd/verstak-sync-server.catalog) against
# the source: every MESSAGE_ID the daemon or the mail helper logs (each
# LOG_MID_* of src/util/log.h used in a log_field, and any literal 32-hex
# value given as MESSAGE_ID) has an entry with a Subject, and every entry is
# a MESSAGE_ID the source defines; every LOG_MID_* defined has an entry and
# is used.  Then journalctl itself indexes the file
# in a scratch root (--root= --update-catalog) and lists every entry back,
# which is what the package's trigger does on a real system.
#
# Usage: check-catalog.sh SOURCE_ROOT
set -eu

src=$1
catalog=$src/systemd/verstak-sync-server.catalog
fail=0

# NAME VALUE pairs of the defined ids.
defs=$(sed -n 's/^#define \(LOG_MID_[A-Z_]*\) *"\([0-9a-f]\{32\}\)".*/\1 \2/p' "$src/src/util/log.h")
[ -n "$defs" ] || { echo "no LOG_MID_* definitions found in src/util/log.h" >&2; exit 1; }

# Ids used in the source: macros in MESSAGE_ID fields, and literals.
used_names=$(grep -rhoE '"MESSAGE_ID", *LOG_MID_[A-Z_]+' "$src/src" | sed 's/.*\(LOG_MID_[A-Z_]*\)/\1/' | sort -u)
used_literals=$(grep -rhoE '"MESSAGE_ID", *"[0-9a-f]{32}"' "$src/src" | grep -oE '[0-9a-f]{32}' | sort -u || true)
[ -n "$used_names" ] || { echo "no MESSAGE_ID uses found under src/" >&2; exit 1; }

entries=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort)
dup=$(printf '%s\n' "$entries" | uniq -d)
if [ -n "$dup" ]; then
  echo "duplicate catalog entries: $dup" >&2
  fail=1
fi

has_entry() {
  printf '%s\n' "$entries" | grep -qx "$1"
}

for name in $used_names; do
  id=$(printf '%s\n' "$defs" | awk -v n="$name" '$1 == n { print $2 }')
  if [ -z "$id" ]; then
    echo "$name is used but not defined in src/util/log.h" >&2
    fail=1
  elif ! has_entry "$id"; then
    echo "$name ($id) has no entry in $catalog" >&2
    fail=1
  fi
done
for id in $used_literals; do
  has_entry "$id" || { echo "MESSAGE_ID $id has no entry in $catalog" >&2; fail=1; }
done
# Every defined id has an entry and is used somewhere (commands pass theirs
# to a helper, so a use is any mention outside src/util/log.h).
for pair in $(printf '%s\n' "$defs" | tr ' ' ':'); do
  name=${pair%%:*}
  id=${pair#*:}
  has_entry "$id" || { echo "$name ($id) has no entry in $catalog" >&2; fail=1; }
  grep -rqw --exclude=log.h "$name" "$src/src" ||
    { echo "$name is defined but never used" >&2; fail=1; }
done
# No stale entries: each one is a defined id.
for id in $entries; do
  printf '%s\n' "$defs" | awk '{ print $2 }' | grep -qx "$id" ||
    printf '%s\n' "$used_literals" | grep -qx "$id" ||
    { echo "catalog entry $id is not a MESSAGE_ID of the source" >&2; fail=1; }
done
# Every entry has a Subject line right after its header.
awk '/^-- [0-9a-f]{32}$/ { id = $2; getline; if ($0 !~ /^Subject: ./) { print "entry " id " has no Subject" > "/dev/stderr"; bad = 1 } } END { exit bad }' "$catalog" || fail=1

# journalctl parses and indexes it.
if command -v journalctl >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/usr/lib/systemd/catalog"
  cp "$catalog" "$root/usr/lib/systemd/catalog/"
  if ! journalctl --root="$root" --update-catalog 2>"$root/err"; then
    cat "$root/err" >&2
    fail=1
  elif [ -s "$root/err" ]; then
    echo "journalctl --update-catalog complained:" >&2
    cat "$root/err" >&2
    fail=1
  else
    listed=$(journalctl --root="$root" --list-catalog 2>/dev/null | awk '{ print $1 }' | sort)
    for id in $entries; do
      printf '%s\n' "$listed" | grep -qx "$id" ||
        { echo "journalctl does not list catalog entry $id" >&2; fail=1; }
    done
  fi
fi

[ "$fail" -eq 0 ] && echo "catalog: $(printf '%s\n' "$entries" | wc -l) entries, every MESSAGE_ID covered"
exit "$fail"
