#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fill a migrated server.db (daemon stopped) with a big server's worth of
data for the console benchmark: 100 000 users, 20 000 devices, 1 000 000
operations, 50 000 blobs (rows only, no files) and 200 000 audit entries.
Dates are relative to now, so the figures (last 24 h, expired sessions)
look like a live server's.  Usage: admin_seed.py DATA_DIR/server.db"""
import random
import sqlite3
import sys
import time

USERS, DEVICES, OPS, BLOBS, AUDIT = 100_000, 20_000, 1_000_000, 50_000, 200_000
EVENTS = ["login", "login_failed", "logout", "device_paired", "device_revoked",
          "device_auth_failed", "user_registered", "email_confirmed", "password_reset",
          "rate_limit_exceeded", "admin_login", "admin_user_blocked"]


def ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    rnd = random.Random(17)
    now = int(time.time())
    db = sqlite3.connect(sys.argv[1])
    db.execute("PRAGMA synchronous=OFF")
    if db.execute("PRAGMA user_version").fetchone()[0] < 4:
        sys.exit("server.db is not migrated: start the daemon once first")
    with db:
        db.executemany(
            "INSERT INTO server_users (id, username, email, password_hash, confirmed, blocked,"
            " last_seen, created_at) VALUES (?, ?, ?, 'x', ?, ?, ?, ?)",
            ((f"u{i:06d}", f"user{i:06d}", f"user{i:06d}@example.test",
              0 if i % 10 == 3 else 1, 1 if i % 20 == 7 else 0,
              ts(now - rnd.randrange(90 * 86400)) if i % 4 else None,
              ts(now - 2 * 365 * 86400 + i * 600)) for i in range(USERS)))
        db.executemany(
            "INSERT INTO server_devices (id, name, api_key, token_hash, token_prefix,"
            " token_suffix, user_id, vault_id, client_version, last_ip, last_seen, revoked_at,"
            " created_at) VALUES (?, ?, ?, ?, 'vss_ab12', 'cd34', ?, ?, ?, '10.0.0.1', ?, ?, ?)",
            ((f"dev_{i:024d}", f"laptop {i}", f"key-{i}", f"{i:064x}", f"u{i // 2:06d}",
              f"vault-{i % 3}", f"verstak/0.{i % 7}", ts(now - rnd.randrange(30 * 86400)),
              ts(now - 86400) if i % 10 == 9 else None, ts(now - 400 * 86400 + i * 1000))
             for i in range(DEVICES)))
        db.executemany("INSERT INTO server_user_devices VALUES (?, ?)",
                       ((f"u{i // 2:06d}", f"dev_{i:024d}") for i in range(DEVICES)))

        # Operations in push order over 60 days; sequence and pushed_at grow together.
        def ops():
            start = now - 60 * 86400
            for seq in range(1, OPS + 1):
                dev = rnd.randrange(DEVICES)
                when = ts(start + seq * 60 * 86400 // OPS)
                yield (seq, f"op-{seq}", f"u{dev // 2:06d}", f"vault-{dev % 3}",
                       f"dev_{dev:024d}", "note", f"n{seq % 5000}", "update",
                       '{"title":"x"}', when, when)
        db.executemany(
            "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id,"
            " entity_type, entity_id, op_type, payload_json, created_at, pushed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ops())
        # Pushes count their ops; rows inserted here are counted by hand.
        db.execute("UPDATE server_meta SET value = ?"
                   " WHERE key IN ('last_sequence', 'ops_count')", (OPS,))
        db.executemany("INSERT INTO server_blobs VALUES (?, ?, ?)",
                       ((f"{i:064x}", 1000 + i, ts(now - i * 60)) for i in range(BLOBS)))
        db.executemany(
            "INSERT OR IGNORE INTO server_blob_refs VALUES (?, ?, ?, ?, ?, ?)",
            ((f"u{(i * 7) % (DEVICES // 2):06d}", f"vault-{i % 3}", f"{i % (BLOBS - 2000):064x}",
              1000 + i % (BLOBS - 2000), ts(now - i * 60), ts(now - i * 30))
             for i in range(BLOBS)))
        db.executemany(
            "INSERT INTO server_audit_log (event_type, user_id, device_id, ip, message,"
            " created_at) VALUES (?, ?, ?, '10.0.0.1', 'seeded', ?)",
            ((EVENTS[i % len(EVENTS)], f"u{rnd.randrange(USERS):06d}",
              f"dev_{rnd.randrange(DEVICES):024d}" if i % 2 else None,
              ts(now - 90 * 86400 + i * 90 * 86400 // AUDIT)) for i in range(AUDIT)))
        db.executemany(
            "INSERT INTO server_sessions VALUES (?, 'c', 'user', ?, ?, ?, ?)",
            ((f"s{i}", f"u{i:06d}", ts(now + (86400 if i % 2 else -86400)), ts(now - 86400),
              ts(now - 86400)) for i in range(2000)))
    db.execute("ANALYZE")
    db.close()


if __name__ == "__main__":
    main()
