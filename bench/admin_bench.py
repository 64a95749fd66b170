#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Time every read of the console's JSON API on a running server (seeded
with admin_seed.py) and print p50/p95 per answer, and, given the server's
process id, the server's CPU time per answer (user + system, all threads,
from /proc): on a loaded machine wall-clock times include waiting for a
core, CPU time does not.  Usage:
admin_bench.py BASE_URL ADMIN_USER PASSWORD_FILE [ROUNDS [SERVER_PID]]"""
import http.cookiejar
import json
import os
import sys
import time
import urllib.request

PATHS = [
    "stats", "overview", "users", "users?q=user01234", "users?status=blocked",
    "users?sort=username&order=asc", "users?sort=last_seen", "users?page=500",
    "users?q=example", "users?q=r0", "users?page=5000&per_page=20",
    "users?sort=email&page=4000&per_page=25", "users?status=active&page=4000",
    "users?sort=devices", "users?sort=devices&order=asc&page=2000",
    "users/u012345", "devices", "devices?user=user000123", "devices?status=revoked",
    "devices?client_version=verstak%2F0.3", "devices?page=1000", "devices?vault_id=vault-1&page=300", "keys", "vaults",
    "vaults?page=300", "vaults?page=1000", "vaults/u000123/vault-0", "storage", "audit",
    "audit?severity=warning", "audit?event=login", "audit?user_id=u004242",
    "audit?from=2000-01-01&page=50", "audit?page={last_audit_page}", "audit?event=login&page=800",
    "audit/events", "settings", "diagnostics", "admins", "invitations", "smtp", "me",
]


def cpu_seconds(pid):
    """User + system CPU time of every thread of pid so far, or None."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    base, user, pass_file = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
    password = open(pass_file).read().rstrip("\n")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(base + "/admin/api/login",
                                 json.dumps({"username": user, "password": password}).encode(),
                                 {"Content-Type": "application/json"})
    opener.open(req).read()
    # The audit log's last page, however many entries retention has left.
    audit_total = json.load(opener.open(base + "/admin/api/audit"))["total"]
    last_audit_page = max(1, -(-audit_total // 20))
    print(f"{'answer (GET /admin/api/...)':40} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8}"
          f" {'bytes':>8}")
    worst = worst_cpu = 0.0
    for path in (p.format(last_audit_page=last_audit_page) for p in PATHS):
        times, size = [], 0
        for i in range(rounds + 3):
            if i == 3:  # the first answers warm the caches
                cpu = cpu_seconds(pid)
            t = time.perf_counter()
            body = opener.open(base + "/admin/api/" + path).read()
            if i >= 3:
                times.append((time.perf_counter() - t) * 1000)
            size = len(body)
        cpu = cpu_seconds(pid) - cpu if pid else None
        times.sort()
        p50, p95 = times[len(times) // 2], times[-(-len(times) * 95 // 100) - 1]
        worst = max(worst, p95)
        cpu_ms = f"{cpu * 1000 / rounds:8.1f}" if cpu is not None else f"{'-':>8}"
        if cpu is not None:
            worst_cpu = max(worst_cpu, cpu * 1000 / rounds)
        print(f"{path:40} {p50:8.1f} {p95:8.1f} {cpu_ms} {size:8}")
    print(f"worst p95: {worst:.1f} ms" + (f"; worst server CPU per answer: {worst_cpu:.1f} ms"
                                           if pid else ""))


if __name__ == "__main__":
    main()
