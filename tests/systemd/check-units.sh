#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Checks the systemd units of verstak-sync-server:
#  1. `systemd-analyze verify --man=no` accepts the .service and .socket and
#     prints nothing.  The units name /usr/sbin/verstak-sync-server, which is
#     not installed on a build machine, so they are verified as temporary
#     copies whose ExecStart points at the freshly built binary; nothing
#     else is changed.
#  2. `systemd-analyze security --offline=yes` rates the service at most
#     MAX_EXPOSURE (the "Overall exposure level" line), so hardening never
#     silently regresses.
#  3. Every system call of the daemon's own seccomp profile is allowed by
#     the unit's SystemCallFilter= (expanded with `systemd-analyze
#     syscall-filter`), so the unit never refuses what the daemon needs.
#  4. The sysusers.d and tmpfiles.d snippets apply cleanly to a scratch
#     root (--root=), creating the users and directories they promise.
#
# The mail helper's units get checks 1 and 2 too, with MAILER_MAX_EXPOSURE
# (it keeps network access: it talks SMTP).  So does the server with the
# shipped drop-in for PostgreSQL over TCP (examples/systemd/), with
# DB_TCP_MAX_EXPOSURE: it reaches one database address.
#
# Usage: check-units.sh SOURCE_ROOT SERVER_BINARY SECCOMP_LIST_PROGRAM MAILER_BINARY
set -eu

MAX_EXPOSURE=1.0
MAILER_MAX_EXPOSURE=1.5
DB_TCP_MAX_EXPOSURE=1.2

src=$1
bin=$2
list_seccomp=$3
mailer_bin=$4
units="$src/systemd"

if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "systemd-analyze not installed: skipping"
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. verify -----------------------------------------------------------
# verify NAME INSTALLED_PATH BUILT_BINARY
verify() {
        extra=
        if [ -e "$units/$1-metrics.socket" ]; then
                extra="$tmp/$1-metrics.socket"
                cp "$units/$1-metrics.socket" "$extra"
        fi
        for u in "$1.service" "$1.socket"; do
                sed "s|$2|$3|" "$units/$u" >"$tmp/$u"
        done
        # shellcheck disable=SC2086
        if ! systemd-analyze verify --man=no "$tmp/$1.service" "$tmp/$1.socket" $extra \
                >"$tmp/verify.out" 2>&1; then
                echo "FAIL: systemd-analyze verify $1:"
                cat "$tmp/verify.out"
                exit 1
        fi
        if [ -s "$tmp/verify.out" ]; then
                echo "FAIL: systemd-analyze verify complained about $1:"
                cat "$tmp/verify.out"
                exit 1
        fi
        echo "ok: systemd-analyze verify $1"
}
verify verstak-sync-server /usr/sbin/verstak-sync-server "$bin"
verify verstak-sync-mailer /usr/libexec/verstak-sync-mailer "$mailer_bin"

# The server's units with the PostgreSQL-over-TCP drop-in beside them, where
# systemd-analyze reads it (the unit's directory).
dbtcp="$tmp/db-tcp"
mkdir -p "$dbtcp/verstak-sync-server.service.d"
cp "$tmp/verstak-sync-server.service" "$tmp/verstak-sync-server.socket" \
        "$tmp/verstak-sync-server-metrics.socket" "$dbtcp/"
cp "$src/examples/systemd/postgresql-tcp.conf" "$dbtcp/verstak-sync-server.service.d/"
if ! (cd "$dbtcp" && systemd-analyze verify --man=no verstak-sync-server.service \
        verstak-sync-server.socket verstak-sync-server-metrics.socket) >"$tmp/verify.out" 2>&1 ||
        [ -s "$tmp/verify.out" ]; then
        echo "FAIL: systemd-analyze verify with postgresql-tcp.conf:"
        cat "$tmp/verify.out"
        exit 1
fi
echo "ok: systemd-analyze verify verstak-sync-server with postgresql-tcp.conf"

# --- 2. exposure score -----------------------------------------------------
# exposure NAME MAX [UNIT_DIR]
exposure() {
        (cd "${3:-$units}" && systemd-analyze security --offline=yes --no-pager "$1.service") \
                >"$tmp/security.out" 2>&1 || true
        score=$(sed -n "s/.*Overall exposure level for $1.service: \([0-9.]*\).*/\1/p" \
                "$tmp/security.out")
        if [ -z "$score" ]; then
                echo "FAIL: no 'Overall exposure level' line for $1:"
                cat "$tmp/security.out"
                exit 1
        fi
        if ! awk -v s="$score" -v m="$2" 'BEGIN { exit !(s <= m) }'; then
                echo "FAIL: exposure of $1 is $score, above $2:"
                grep '✗' "$tmp/security.out" || true
                exit 1
        fi
        echo "ok: exposure level of $1 is $score (at most $2)"
}
exposure verstak-sync-server "$MAX_EXPOSURE"
exposure verstak-sync-mailer "$MAILER_MAX_EXPOSURE"
exposure verstak-sync-server "$DB_TCP_MAX_EXPOSURE" "$dbtcp"

# --- 3. SystemCallFilter= covers the seccomp profile --------------------------
# Expand a systemd syscall group (recursively) to plain names.
expand() {
        systemd-analyze syscall-filter --no-pager "$1" 2>/dev/null |
                sed -n "s/^    \\([@a-z0-9_-]*\\)$/\\1/p" |
                while read -r n; do
                        case "$n" in
                        @*) expand "$n" ;;
                        *) echo "$n" ;;
                        esac
                done
}
: >"$tmp/allowed"
: >"$tmp/denied"
grep '^SystemCallFilter=' "$units/verstak-sync-server.service" | sed 's/^SystemCallFilter=//' |
        while read -r line; do
                case "$line" in
                "~"*) out="$tmp/denied"; line=${line#\~} ;;
                *) out="$tmp/allowed" ;;
                esac
                for item in $line; do
                        case "$item" in
                        @*) expand "$item" >>"$out" ;;
                        *) echo "$item" >>"$out" ;;
                        esac
                done
        done
sort -u "$tmp/allowed" >"$tmp/allowed.s"
sort -u "$tmp/denied" >"$tmp/denied.s"
comm -23 "$tmp/allowed.s" "$tmp/denied.s" >"$tmp/effective"
"$list_seccomp" --list | sort -u >"$tmp/profile"
missing=$(comm -23 "$tmp/profile" "$tmp/effective")
if [ -n "$missing" ]; then
        echo "FAIL: the unit's SystemCallFilter= refuses system calls the daemon's profile needs:"
        echo "$missing"
        exit 1
fi
echo "ok: SystemCallFilter= allows all $(wc -l <"$tmp/profile") system calls of the seccomp profile"

# --- 4. sysusers.d and tmpfiles.d ---------------------------------------------
root="$tmp/root"
mkdir -p "$root/etc"
for f in passwd group shadow gshadow; do
        if [ -e "/etc/$f" ]; then cp "/etc/$f" "$root/etc/"; fi
done
systemd-sysusers --root="$root" "$units/sysusers.d/verstak-sync-server.conf" >/dev/null 2>&1 || {
        echo "FAIL: systemd-sysusers rejected sysusers.d/verstak-sync-server.conf"
        exit 1
}
for u in verstak verstak-mail; do
        grep -q "^$u:" "$root/etc/passwd" || { echo "FAIL: sysusers did not create $u"; exit 1; }
done
systemd-tmpfiles --root="$root" --create "$units/tmpfiles.d/verstak-sync-server.conf" \
        >"$tmp/tmpfiles.out" 2>&1 || {
        echo "FAIL: systemd-tmpfiles:"
        cat "$tmp/tmpfiles.out"
        exit 1
}
[ -d "$root/var/lib/verstak-sync-server" ] && [ -f "$root/etc/verstak-sync-server/config.yml" ] &&
        [ -f "$root/etc/verstak-sync-server/smtp-password" ] || {
        echo "FAIL: tmpfiles did not create the state directory, config.yml and smtp-password"
        exit 1
}
echo "ok: sysusers.d and tmpfiles.d apply to a scratch root"
