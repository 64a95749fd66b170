#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The test-suite-wide "no secrets in logs" check.  Every integration suite
# records each password, token or cookie value it hands the daemon with
# harness_note_secret(), which appends it to DIR/secrets.txt; the harness
# copies every daemon log of the run into DIR.  This script fails when any
# recorded secret appears in any of those logs, and when a log carries an
# Authorization header value or a Cookie header.
#
# It must run after all other suites (meson: priority -100, not parallel).
# Exit 77 (skipped) when no suite recorded a secret, e.g. when only this
# test was selected.
#
# Usage: check-logs-for-secrets.sh DIR
set -eu
dir=$1
secrets="$dir/secrets.txt"

if [ ! -s "$secrets" ]; then
        echo "no secrets recorded in $secrets: nothing to check (run the integration suites first)"
        exit 77
fi
logs=$(find "$dir" -type f -name '*.log' | sort)
if [ -z "$logs" ]; then
        echo "FAIL: secrets were recorded but no daemon log was collected in $dir"
        exit 1
fi

n_logs=$(printf '%s\n' "$logs" | wc -l)
n_secrets=$(sort -u "$secrets" | wc -l)
failed=0

# grep -F -f: every line of secrets.txt is a fixed string.
sort -u "$secrets" >"$dir/.secrets.sorted"
if printf '%s\n' "$logs" | xargs grep -l -F -f "$dir/.secrets.sorted" >"$dir/.leaks" 2>/dev/null; then
        echo "FAIL: recorded secrets appear in daemon logs:"
        while read -r f; do
                echo "  $f:"
                grep -n -o -F -f "$dir/.secrets.sorted" "$f" | sed 's/^/    line /'
        done <"$dir/.leaks"
        failed=1
fi
if printf '%s\n' "$logs" | xargs grep -l -i -E 'bearer [A-Za-z0-9_.-]{8}|cookie: ' >"$dir/.leaks" 2>/dev/null; then
        echo "FAIL: credentials-looking text in daemon logs:"
        sed 's/^/  /' "$dir/.leaks"
        failed=1
fi
rm -f "$dir/.secrets.sorted" "$dir/.leaks"
if [ "$failed" -ne 0 ]; then
        exit 1
fi
echo "ok: none of $n_secrets recorded secrets in $n_logs daemon logs"
