#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a
# temporary directory, listening on a unix socket only (no TCP), trusting
# local connections.  Run as root (as CI does), the cluster belongs to the
# unprivileged "postgres" account of Debian's postgresql package; run as
# anyone else, to that user.
#
#   pg-cluster.sh start   create and start the cluster (idempotent)
#   pg-cluster.sh url     print the URL of its "postgres" database
#   pg-cluster.sh stop    stop it and remove the directory
#
# VERSTAK_PG_DIR chooses the directory (default /tmp/verstak-pg-cluster).
set -euo pipefail

dir=${VERSTAK_PG_DIR:-/tmp/verstak-pg-cluster}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bin" ] || { echo "pg-cluster.sh: PostgreSQL is not installed (scripts/deps.sh test)" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

url() {
  echo "postgresql:///postgres?host=$dir/socket&user=$owner"
}

case "${1:-}" in
  start)
    if [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null; then
      exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir/data" "$dir/socket"
    chown -R "$owner" "$dir"
    chmod 0700 "$dir/data"
    chmod 0755 "$dir" "$dir/socket"
    as_owner "$bin/initdb" -D "$dir/data" -U "$owner" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/socket'
unix_socket_permissions = 0777
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null
    ;;
  url)
    url
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|url|stop" >&2
    exit 2
    ;;
esac
