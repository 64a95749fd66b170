#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fail when an include runs against the layer order of design.md:
#
#   util <- config, store, blob, http, daemon, auth <- api <- server
#
# Each directory under src/ may include only its own headers and those of
# the layers listed for it below; the mailer uses util, config and its own
# files.  A new directory under src/ must be given a row here.
# Usage: check-layers.sh [SOURCE_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}/src"

declare -A allowed=(
  [util]=""
  [config]="util"
  [store]="util"
  [blob]="util"
  [http]="util"
  [daemon]="util"
  [auth]="util http store"
  [mailer]="util config"
  [api]="util config store blob http daemon auth mailer"
  [server]="util config store blob http daemon auth mailer api"
)

bad=0
for dir in */; do
  layer=${dir%/}
  if [[ ! -v allowed[$layer] ]]; then
    echo "src/$layer: not a known layer; give it a row in $0" >&2
    bad=1
    continue
  fi
  # Every quoted include that names a directory under src/.
  while IFS=: read -r file line target; do
    [ "$target" = "$layer" ] && continue
    [ -d "$target" ] || continue # "version.h", "config-version.h": generated
    case " ${allowed[$layer]} " in
      *" $target "*) ;;
      *)
        echo "src/$file:$line: $layer must not include $target/ (layer order)" >&2
        bad=1
        ;;
    esac
  done < <(grep -HnoE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[A-Za-z0-9_-]+/' \
             "$layer"/*.[ch] 2>/dev/null |
           sed -E 's/^([^:]+):([0-9]+):.*"([A-Za-z0-9_-]+)\/$/\1:\2:\3/')
done

if [ "$bad" -ne 0 ]; then
  echo "Includes run against the layer order (see tests/check-layers.sh)." >&2
  exit 1
fi
echo "Layer order respected in $(pwd)."
