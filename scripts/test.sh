#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the tests need, build with warnings as errors, and run every
# pass CI runs, timing each:
#
#   plain        unit, integration (the real daemon, real SQLite, a real
#                SMTP server, systemd tools), web (the pages in headless
#                Chromium, with axe-core; screenshots in build/web-artefacts/)
#                and lint (clang-format) suites
#   clock-ahead  the same suites with the clock a year ahead (faketime)
#   postgresql   the integration suites that pass on PostgreSQL, against a
#                throwaway cluster (scripts/pg-cluster.sh), each daemon on a
#                fresh database of its own
#   analyze      GCC's analyzer on a -Dtests=false production build,
#                scan-build and cppcheck (scripts/analyze.sh)
#   tsan         unit and integration suites under ThreadSanitizer
#   asan         the same under AddressSanitizer and UndefinedBehaviorSanitizer
#   deb          the Debian package, whose build runs the unit suites and
#                the integration suites that need no root (scripts/build-deb.sh)
#   fuzz         a short libFuzzer pass over every parser of untrusted bytes
#
# Skip a pass during development with VERSTAK_SKIP_CLOCK_AHEAD=1,
# VERSTAK_SKIP_ANALYZE=1, VERSTAK_SKIP_TSAN=1, VERSTAK_SKIP_SANITIZERS=1
# (ASan/UBSan), VERSTAK_SKIP_DEB=1, VERSTAK_SKIP_FUZZ=1 or
# VERSTAK_SKIP_POSTGRESQL=1.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test

timings=()
# Run a pass and remember how long it took.
pass() {
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  "$@"
  timings+=("$(printf '%-12s %4d s' "$name" $((SECONDS - start)))")
}

skipped() {
  [ "${!1:-0}" = "1" ]
}

run_suites() {
  local dir=$1
  shift
  rm -rf "$dir/test-daemon-logs"
  mkdir -p "$dir/test-daemon-logs"
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
}

# A sanitizer report in any daemon's log fails the run, even when the test
# that started that daemon did not notice.
check_daemon_logs() {
  local dir=$1 pattern=$2
  if grep -l -E "$pattern" "$dir"/test-daemon-logs/*.log 2>/dev/null; then
    echo "Sanitizer reports found in the daemon logs above." >&2
    return 1
  fi
}

plain() {
  [ -d build ] || meson setup build -Dwerror=true
  meson configure build -Dwerror=true >/dev/null
  ninja -C build
  run_suites build
}

# A suite that passes today must pass next year (libfaketime for the tests
# and every daemon they start).  Not combined with the sanitizers, whose
# runtime cannot share LD_PRELOAD with libfaketime.
clock_ahead() {
  rm -rf build/test-daemon-logs
  mkdir -p build/test-daemon-logs
  faketime -f "+365d" meson test -C build --no-rebuild --print-errorlogs --num-processes 2 \
    --no-suite lint
}

# The store's second back end: every suite about behaviour, the pages in
# the browser included.  Not here: upgrade (the earlier server's SQLite
# data directories), mailer (no database), pg-changes (PostgreSQL on every
# pass already), the web suite's static assets and catalogs; the few
# SQLite-only cases inside the listed suites skip themselves (see
# docs/testing.md).
pg_suites=(sync blobs admin accounts ops metrics reliability foundation systemd sandbox
  web-admin-console web-user-pages)
postgresql() {
  local rc=0
  scripts/pg-cluster.sh start
  rm -rf build/test-daemon-logs
  mkdir -p build/test-daemon-logs
  VERSTAK_TEST_PG_URL=$(scripts/pg-cluster.sh url) \
    meson test -C build --no-rebuild --print-errorlogs --num-processes 2 "${pg_suites[@]}" || rc=$?
  scripts/pg-cluster.sh stop
  return $rc
}

# ThreadSanitizer: group commit, long polls, the work queue and the mail
# client run on several threads.  color=never keeps its runtime from
# calling isatty() (ioctl), which the daemon's seccomp filter refuses, so a
# report reaches the daemon's log instead of a SIGSYS.  This kernel's mmap
# randomisation (vm.mmap_rnd_bits=28) needs no setarch -R.
tsan() {
  [ -d build-tsan ] || meson setup build-tsan -Dwerror=true -Db_sanitize=thread \
    -Db_lundef=false -Dbuildtype=debug
  ninja -C build-tsan
  TSAN_OPTIONS=color=never:halt_on_error=1:second_deadlock_stack=1 \
    run_suites build-tsan --no-suite lint --no-suite web
  check_daemon_logs build-tsan "WARNING: ThreadSanitizer"
}

asan() {
  [ -d build-sanitize ] || meson setup build-sanitize -Dwerror=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  ninja -C build-sanitize
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suites build-sanitize --no-suite lint
  check_daemon_logs build-sanitize "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:"
}

pass plain plain
skipped VERSTAK_SKIP_CLOCK_AHEAD || pass clock-ahead clock_ahead
skipped VERSTAK_SKIP_POSTGRESQL || pass postgresql postgresql
skipped VERSTAK_SKIP_ANALYZE || pass analyze scripts/analyze.sh
skipped VERSTAK_SKIP_TSAN || pass tsan tsan
skipped VERSTAK_SKIP_SANITIZERS || pass asan asan
skipped VERSTAK_SKIP_DEB || pass deb scripts/check-deb.sh
skipped VERSTAK_SKIP_FUZZ || pass fuzz scripts/fuzz.sh 10

echo "Time per pass:"
printf '  %s\n' "${timings[@]}"
echo "All test suites passed."
