#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Check that every C source and header of the tree is formatted as the
# committed .clang-format says (clang-format --dry-run --Werror), and name
# the files that are not.  Fix with: clang-format -i FILE...
# Run by `meson test --suite lint`; takes the source root as argument.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
mapfile -d '' files < <(find src tests bench -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
if [ ${#files[@]} -eq 0 ]; then
  echo "no C sources found under $(pwd)" >&2
  exit 1
fi
# One clang-format for all files; its complaints name file:line.
if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  echo "Not formatted as .clang-format says (clang-format -i FILE):" >&2
  grep -o '^[^:]*\.[ch]:' <<<"$out" | sort -u | sed 's/:$//; s/^/  /' >&2
  exit 1
fi
echo "ok: ${#files[@]} files formatted"
