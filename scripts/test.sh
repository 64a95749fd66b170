#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the tests need, build with warnings as errors, and run every
# test suite: unit, integration (the real daemon, real SQLite, a real SMTP
# server, systemd tools), web (the pages in headless Chromium, with
# axe-core; screenshots in build/web-artefacts/), then the same suites
# again under AddressSanitizer and UndefinedBehaviorSanitizer, then a short
# libFuzzer pass over every parser of untrusted bytes (scripts/fuzz.sh,
# about ten seconds a target).
# The plain suites also run a second time with the clock a year ahead
# (faketime).  Set VERSTAK_SKIP_SANITIZERS=1, VERSTAK_SKIP_CLOCK_AHEAD=1 or
# VERSTAK_SKIP_FUZZ=1 to skip those passes during development.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test

run_suites() {
  local dir=$1
  rm -rf "$dir/test-daemon-logs"
  mkdir -p "$dir/test-daemon-logs"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

[ -d build ] || meson setup build -Dwerror=true
meson configure build -Dwerror=true >/dev/null
ninja -C build
run_suites build

# The same build again with the clock one year ahead (libfaketime for the
# tests and every daemon they start): a suite that passes today must pass
# next year.  Not combined with the sanitizers, whose runtime cannot share
# LD_PRELOAD with libfaketime.
if [ "${VERSTAK_SKIP_CLOCK_AHEAD:-0}" != "1" ]; then
  rm -rf build/test-daemon-logs
  mkdir -p build/test-daemon-logs
  faketime -f "+365d" meson test -C build --no-rebuild --print-errorlogs --num-processes 2
fi

if [ "${VERSTAK_SKIP_SANITIZERS:-0}" != "1" ]; then
  [ -d build-sanitize ] || meson setup build-sanitize -Dwerror=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  ninja -C build-sanitize
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suites build-sanitize
  # A sanitizer report in any daemon's log fails the run, even when the
  # test that started that daemon did not notice.
  if grep -l -E "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" \
       build-sanitize/test-daemon-logs/*.log 2>/dev/null; then
    echo "Sanitizer reports found in the daemon logs above." >&2
    exit 1
  fi
fi
if [ "${VERSTAK_SKIP_FUZZ:-0}" != "1" ]; then
  scripts/fuzz.sh 10
fi
echo "All test suites passed."
