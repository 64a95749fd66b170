#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis of the two programs, each finding a failure:
#
#  1. GCC's analyzer (-fanalyzer) on a production build (-Dtests=false,
#     warnings as errors): use after free, double free, NULL dereferences,
#     file descriptors.  GCC lowers __attribute__((cleanup))
#     (util/cleanup.h) before it analyses, so it follows the project's
#     _cleanup_ variables.  Its leak check is off: GCC 12 loses memory
#     handed to the caller through an out-parameter or stored into a list
#     it was found in, and calls it leaked.  The same build proves that the
#     programs build without any test dependency.
#  2. clang's analyzer (scan-build) for the rest: uninitialised values,
#     dead stores, null arguments, API misuse.  Its malloc checker is off:
#     clang 14 does not model __attribute__((cleanup)) and would report
#     every _cleanup_free_ variable as a leak.  Its non-null argument
#     check is off too: request fields are filled through the field specs
#     (api/fields.c), which it does not follow into, so every use of a
#     required field looked like a possible strlen(NULL); the sanitizer
#     passes catch a real NULL dereference at run time.
#  3. cppcheck, warnings and portability, with its memleak check off for
#     the same reason.
#
# Leaks are found at run time instead: LeakSanitizer checks every process
# of every suite in the ASan pass of scripts/test.sh.
#
# A finding that is not a defect is justified where it is, with an inline
# suppression (cppcheck-suppress) or a change the analysers can follow.
# Build directories: build-analyze-gcc and build-analyze-clang.
set -euo pipefail
cd "$(dirname "$0")/.."

gcc_dir=build-analyze-gcc
clang_dir=build-analyze-clang

[ -d "$gcc_dir" ] || meson setup "$gcc_dir" -Dtests=false -Dwerror=true -Dbuildtype=debug \
  -Dc_args="-fanalyzer -Wno-analyzer-malloc-leak" >/dev/null
if grep -qi cmocka "$gcc_dir/meson-logs/meson-log.txt"; then
  echo "A build with -Dtests=false looked for cmocka" >&2
  exit 1
fi
ninja -C "$gcc_dir"

[ -d "$clang_dir" ] || scan-build meson setup "$clang_dir" -Dtests=false -Dbuildtype=debug >/dev/null
# Analyse every file each time: scan-build only sees what ninja compiles.
ninja -C "$clang_dir" -t clean >/dev/null
scan-build --status-bugs --exclude /usr -disable-checker unix.Malloc \
  -disable-checker core.NonNullParamChecker -o "$clang_dir/scan-report" \
  ninja -C "$clang_dir"

cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 -j 2 \
  --enable=warning,portability,performance --suppress=memleak \
  -D_GNU_SOURCE -I src -I "$gcc_dir" src
echo "Static analysis: no findings."
