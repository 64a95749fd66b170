#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer targets of tests/fuzz/ with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in build-fuzz/, and run each one for
# SECONDS (default 10) on a scratch copy of its seed corpus.  Any crash,
# leak or sanitizer report fails the run; the reproducer is left in
# build-fuzz/fuzz-artifacts/<target>/.  Targets run side by side, one per CPU.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
shift || true

# Per target: the largest input worth trying, in bytes (a Range header, a
# config.yml, a multipart body with a few parts...).
declare -A max_len=(
  [body]=4096
  [multipart]=8192
  [range]=128
  [config]=4096
  [mail_proto]=4096
  [mail_message]=4096
  [email]=512
  [netaddr]=128
  [time]=64
)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(body multipart range config mail_proto mail_message email netaddr time)
fi

if [ ! -d build-fuzz ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debug
fi
ninja -C build-fuzz "${targets[@]/#/tests/fuzz/fuzz_}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One target: its status in $work/$t.status, its output in $work/$t.log.
fuzz_target() {
  local t=$1 corpus="$work/$1" artifacts="build-fuzz/fuzz-artifacts/$1" rc=0
  mkdir -p "$corpus" "$artifacts"
  cp tests/fuzz/corpus/"$t"/* "$corpus"/
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
      -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" >"$work/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$t.status"
}

# As many targets at once as there are CPUs (each is one process), then
# the results in order.
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do
    wait -n || true
  done
  fuzz_target "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
  echo "== fuzz_$t: ${seconds}s"
  if [ "$(cat "$work/$t.status")" != 0 ]; then
    tail -n 60 "$work/$t.log" >&2
    failed+=("$t")
    continue
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)" "$work/$t.log" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "Fuzz targets failed: ${failed[*]} (inputs in build-fuzz/fuzz-artifacts/)" >&2
  exit 1
fi
echo "All fuzz targets ran clean."
