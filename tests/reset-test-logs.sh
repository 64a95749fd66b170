#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Empties the directory that collects every daemon log of a test run
# ($VERSTAK_TEST_LOG_DIR, build/test-daemon-logs) and the secrets the
# suites record there.  Registered as the first test of a run, alone, so
# check-logs-for-secrets.sh (the last one) sees only this run's logs.
#
# Usage: reset-test-logs.sh DIR
set -eu
dir=$1
case "$dir" in
*/test-daemon-logs) ;;
*) echo "refusing to empty '$dir' (expected a test-daemon-logs directory)"; exit 1 ;;
esac
rm -rf -- "$dir"
mkdir -p -- "$dir"
echo "emptied $dir"
