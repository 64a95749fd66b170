#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run a test program against a throwaway PostgreSQL cluster: initdb and
# pg_ctl in a temporary directory, listening on a unix socket only, trust
# authentication for its one role; VERSTAK_TEST_PG_URL names it.  The
# cluster is stopped and removed afterwards, whatever the test did.  As
# root the server runs as an unprivileged account (postgres, else nobody),
# since PostgreSQL refuses to run as root.  Without PostgreSQL's programs
# the test is skipped (exit 77).  When VERSTAK_TEST_PG_URL is already set
# (a run of the suites on PostgreSQL, scripts/pg-cluster.sh), that cluster
# is used as it is.
#
# Usage: with-postgresql.sh PROGRAM [ARGS...]
set -eu

if [ -n "${VERSTAK_TEST_PG_URL:-}" ]; then
        exec "$@"
fi

bindir=${VERSTAK_PG_BINDIR:-}
if [ -z "$bindir" ]; then
        for d in /usr/lib/postgresql/*/bin; do
                [ -x "$d/initdb" ] && bindir=$d
        done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
        echo "PostgreSQL (initdb, pg_ctl) not installed: skipping"
        exit 77
fi

tmp=$(mktemp -d)
as=
if [ "$(id -u)" -eq 0 ]; then
        if id postgres >/dev/null 2>&1; then as=postgres; else as=nobody; fi
        chown "$as" "$tmp"
        chmod 0755 "$tmp"
fi
run() {
        if [ -n "$as" ]; then
                setpriv --reuid="$as" --regid="$(id -g "$as")" --clear-groups -- "$@"
        else
                "$@"
        fi
}
stop() {
        run "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$tmp"
}
trap stop EXIT

run "$bindir/initdb" -D "$tmp/data" -A trust -U verstak -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 ||
        { cat "$tmp/initdb.log"; exit 1; }
# Unix socket only, in the temporary directory; small and quick to stop.
run "$bindir/pg_ctl" -D "$tmp/data" -w -l "$tmp/server.log" \
        -o "-c listen_addresses='' -k $tmp -c fsync=off -c max_connections=50" start >/dev/null ||
        { cat "$tmp/server.log"; exit 1; }

VERSTAK_TEST_PG_URL="postgresql://verstak@/postgres?host=$tmp"
export VERSTAK_TEST_PG_URL
"$@"
