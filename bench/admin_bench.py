#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Time every read of the console's JSON API on a running server (seeded
with admin_seed.py) and print p50/p95 per answer.  Usage:
admin_bench.py BASE_URL ADMIN_USER PASSWORD_FILE [ROUNDS]"""
import http.cookiejar
import json
import sys
import time
import urllib.request

PATHS = [
    "stats", "overview", "users", "users?q=user01234", "users?status=blocked",
    "users?sort=username&order=asc", "users?sort=last_seen", "users?page=500",
    "users/u012345", "devices", "devices?user=user000123", "devices?status=revoked",
    "devices?client_version=verstak%2F0.3", "keys", "vaults", "vaults?page=300",
    "vaults/u000123/vault-0", "storage", "audit", "audit?severity=warning", "audit?event=login",
    "audit?user_id=u004242", "audit?from=2000-01-01&page=50", "audit/events", "settings",
    "diagnostics", "admins", "invitations", "smtp", "me",
]


def main():
    base, user, pass_file = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    password = open(pass_file).read().rstrip("\n")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    req = urllib.request.Request(base + "/admin/api/login",
                                 json.dumps({"username": user, "password": password}).encode(),
                                 {"Content-Type": "application/json"})
    opener.open(req).read()
    print(f"{'answer (GET /admin/api/...)':44} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}")
    worst = 0.0
    for path in PATHS:
        times, size = [], 0
        for i in range(rounds + 3):
            t = time.perf_counter()
            body = opener.open(base + "/admin/api/" + path).read()
            if i >= 3:  # the first answers warm the caches
                times.append((time.perf_counter() - t) * 1000)
            size = len(body)
        times.sort()
        p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95) - 1]
        worst = max(worst, p95)
        print(f"{path:44} {p50:8.1f} {p95:8.1f} {size:8}")
    print(f"worst p95: {worst:.1f} ms")


if __name__ == "__main__":
    main()
