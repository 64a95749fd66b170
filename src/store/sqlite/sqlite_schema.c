/* SPDX-License-Identifier: MIT */
/*
 * The schema and its forward migrations.  PRAGMA user_version numbers the
 * schema; migration N takes a database from version N-1 to N inside one
 * transaction, so a crash mid-migration leaves the previous version intact.
 *
 * Versions 1 and 2 are the existing server's: a data directory it wrote
 * (user_version 2) opens in place and continues from migration 3.  A new
 * database gets the existing server's v2 tables first and then ours, so
 * both paths end in exactly the same schema.
 *
 * Never edit a published migration; add a new one.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite.h"
#include "store/store_entity_key.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The existing server's schema at its version 2 (table and column names
 * are part of the on-disk contract with existing data directories). */
static const char migration_2_legacy[] =
        "CREATE TABLE IF NOT EXISTS server_users ("
        "  id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT NOT NULL UNIQUE,"
        "  password_hash TEXT NOT NULL, confirmed INTEGER NOT NULL DEFAULT 0,"
        "  blocked INTEGER NOT NULL DEFAULT 0, last_seen TEXT, created_at TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_devices ("
        "  id TEXT PRIMARY KEY, name TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE,"
        "  token_hash TEXT, token_prefix TEXT, token_suffix TEXT,"
        "  legacy_api_key INTEGER NOT NULL DEFAULT 0, user_id TEXT, vault_id TEXT,"
        "  client_version TEXT, last_ip TEXT, last_seen TEXT, revoked_at TEXT,"
        "  created_at TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_user_devices ("
        "  user_id TEXT NOT NULL, device_id TEXT NOT NULL, PRIMARY KEY (user_id, device_id));"
        "CREATE TABLE IF NOT EXISTS server_ops ("
        "  op_id TEXT PRIMARY KEY, server_sequence INTEGER, user_id TEXT NOT NULL,"
        "  vault_id TEXT NOT NULL, device_id TEXT NOT NULL, entity_type TEXT NOT NULL,"
        "  entity_id TEXT NOT NULL, op_type TEXT NOT NULL, payload_json TEXT NOT NULL,"
        "  idempotency_key TEXT, client_sequence INTEGER DEFAULT 0,"
        "  last_seen_server_seq INTEGER DEFAULT 0, created_at TEXT NOT NULL,"
        "  pushed_at TEXT NOT NULL DEFAULT (datetime('now')));"
        "CREATE TABLE IF NOT EXISTS server_tombstones ("
        "  user_id TEXT NOT NULL, vault_id TEXT NOT NULL, entity_type TEXT NOT NULL,"
        "  entity_id TEXT NOT NULL, op_id TEXT NOT NULL, deleted_at TEXT NOT NULL,"
        "  PRIMARY KEY (user_id, vault_id, entity_type, entity_id));"
        "CREATE TABLE IF NOT EXISTS server_idempotency_keys ("
        "  user_id TEXT NOT NULL, vault_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,"
        "  response_json TEXT NOT NULL, created_at TEXT NOT NULL,"
        "  PRIMARY KEY (user_id, vault_id, idempotency_key));"
        "CREATE TABLE IF NOT EXISTS server_email_tokens ("
        "  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, purpose TEXT NOT NULL,"
        "  expires_at TEXT NOT NULL, created_at TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_sessions ("
        "  token_hash TEXT PRIMARY KEY, csrf_hash TEXT NOT NULL, scope TEXT NOT NULL,"
        "  subject_id TEXT NOT NULL, expires_at TEXT NOT NULL, created_at TEXT NOT NULL,"
        "  last_seen TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_revisions ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL, device_id TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_blobs ("
        "  sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS server_blob_refs ("
        "  user_id TEXT NOT NULL, vault_id TEXT NOT NULL, sha256 TEXT NOT NULL,"
        "  size INTEGER NOT NULL, created_at TEXT NOT NULL, last_accessed TEXT NOT NULL,"
        "  PRIMARY KEY (user_id, vault_id, sha256));"
        "CREATE TABLE IF NOT EXISTS server_audit_log ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, event_type TEXT NOT NULL, user_id TEXT,"
        "  device_id TEXT, ip TEXT, message TEXT,"
        "  created_at TEXT NOT NULL DEFAULT (datetime('now')));"
        "CREATE TABLE IF NOT EXISTS server_smtp_config (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS idx_server_ops_sequence ON server_ops(server_sequence);"
        "CREATE INDEX IF NOT EXISTS idx_server_ops_entity ON server_ops(entity_type, entity_id);"
        "CREATE INDEX IF NOT EXISTS idx_server_ops_idempotency ON server_ops(idempotency_key);"
        "CREATE INDEX IF NOT EXISTS idx_server_devices_api_key ON server_devices(api_key);"
        "CREATE INDEX IF NOT EXISTS idx_server_devices_user ON server_devices(user_id);"
        "CREATE INDEX IF NOT EXISTS idx_server_users_username ON server_users(username);"
        "CREATE INDEX IF NOT EXISTS idx_server_users_email ON server_users(email);"
        "CREATE INDEX IF NOT EXISTS idx_server_audit_log_event ON server_audit_log(event_type);"
        "CREATE INDEX IF NOT EXISTS idx_server_audit_log_created ON server_audit_log(created_at);"
        "CREATE INDEX IF NOT EXISTS idx_server_blob_refs_scope"
        "  ON server_blob_refs(user_id, vault_id, sha256);"
        "CREATE INDEX IF NOT EXISTS idx_server_blob_refs_user ON server_blob_refs(user_id, sha256);"
        "CREATE INDEX IF NOT EXISTS idx_server_sessions_expiry ON server_sessions(expires_at);"
        "CREATE INDEX IF NOT EXISTS idx_server_sessions_subject"
        "  ON server_sessions(scope, subject_id);"
        "CREATE INDEX IF NOT EXISTS idx_server_ops_scope_sequence"
        "  ON server_ops(user_id, vault_id, server_sequence);"
        "CREATE INDEX IF NOT EXISTS idx_server_devices_scope ON server_devices(user_id, vault_id);";

/*
 * Ours, version 3:
 *  - server_ops: op_id unique per scope (user, vault) instead of globally,
 *    server_sequence becomes the integer primary key (ordered scans, never
 *    NULL).  Rows are copied in sequence order; a row without a sequence
 *    (never written by the existing server, but tolerated) gets the next one.
 *  - server_meta: the sequence high-water mark, so a sequence is never
 *    reused even when the newest op is later deleted with its user.
 *  - server_admins: administrators live in the database (the existing
 *    server kept them in config.yml; those are imported at start).
 *  - indexes for token lookup, conflict detection and garbage collection.
 *  - server_users.locale for e-mail language.
 */
static const char migration_3[] =
        "CREATE TABLE server_ops_v3 ("
        "  server_sequence INTEGER PRIMARY KEY, op_id TEXT NOT NULL, user_id TEXT NOT NULL,"
        "  vault_id TEXT NOT NULL, device_id TEXT NOT NULL, entity_type TEXT NOT NULL,"
        "  entity_id TEXT NOT NULL, op_type TEXT NOT NULL, payload_json TEXT NOT NULL,"
        "  idempotency_key TEXT, client_sequence INTEGER DEFAULT 0,"
        "  last_seen_server_seq INTEGER DEFAULT 0, created_at TEXT NOT NULL,"
        "  pushed_at TEXT NOT NULL DEFAULT (datetime('now')),"
        "  UNIQUE (user_id, vault_id, op_id));"
        "INSERT INTO server_ops_v3 (server_sequence, op_id, user_id, vault_id, device_id,"
        "  entity_type, entity_id, op_type, payload_json, idempotency_key, client_sequence,"
        "  last_seen_server_seq, created_at, pushed_at)"
        "  SELECT server_sequence, op_id, user_id, vault_id, device_id, entity_type, entity_id,"
        "  op_type, payload_json, idempotency_key, client_sequence, last_seen_server_seq,"
        "  created_at, pushed_at FROM server_ops"
        "  ORDER BY server_sequence IS NULL, server_sequence, rowid;"
        "DROP TABLE server_ops;"
        "ALTER TABLE server_ops_v3 RENAME TO server_ops;"
        "CREATE INDEX idx_server_ops_scope_sequence"
        "  ON server_ops(user_id, vault_id, server_sequence);"
        "CREATE INDEX idx_server_ops_scope_entity"
        "  ON server_ops(user_id, vault_id, entity_type, entity_id, server_sequence);"
        "CREATE TABLE server_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO server_meta (key, value)"
        "  SELECT 'last_sequence', coalesce(max(server_sequence), 0) FROM server_ops;"
        "CREATE TABLE server_admins ("
        "  id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
        "  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_login TEXT);"
        "CREATE UNIQUE INDEX idx_server_devices_token_hash ON server_devices(token_hash)"
        "  WHERE token_hash IS NOT NULL;"
        "CREATE INDEX idx_server_email_tokens_user ON server_email_tokens(user_id, purpose);"
        "CREATE INDEX idx_server_blob_refs_sha ON server_blob_refs(sha256);"
        "CREATE INDEX idx_server_idempotency_created ON server_idempotency_keys(created_at);"
        "ALTER TABLE server_users ADD COLUMN locale TEXT;";

/* A legacy key shorter than this gets no prefix/suffix hints: they would
 * give away too much of it. */
#define LEGACY_KEY_HINT_MIN 24

/*
 * Ours, version 4: devices of the earlier server's first releases still
 * hold their API key in clear (server_devices.api_key, legacy_api_key = 1),
 * and desktop clients send it as a Bearer token.  Store it the way every
 * device token is stored: token_hash = SHA-256 (hex) of the key, prefix
 * and suffix hints, and api_key the "disabled:<id>" placeholder.
 * legacy_api_key stays 1 so an administrator can still see which devices
 * should pair again.  *ret_wiped counts the keys removed; the caller then
 * scrubs the file (sqlite_migrate()).
 */
static int bind_text(sqlite3_stmt *st, int idx, const char *v)
{
        int rc = v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, idx);
        return rc == SQLITE_OK ? 0 : -EIO;
}

static int migration_4_step(struct db_conn *c, unsigned *ret_wiped)
{
        static const char sql_select[] =
                "SELECT id, api_key FROM server_devices"
                " WHERE legacy_api_key = 1 AND api_key NOT LIKE 'disabled:%'";
        static const char sql_update[] =
                "UPDATE server_devices SET token_hash = coalesce(nullif(token_hash, ''), ?2),"
                " token_prefix = ?3, token_suffix = ?4, api_key = 'disabled:' || id"
                " WHERE id = ?1";
        sqlite3_stmt *sel = NULL, *upd = NULL;
        unsigned wiped = 0;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(sqlite_db(c), sql_select, -1, &sel, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(sqlite_db(c), sql_update, -1, &upd, NULL);
        if (rc != SQLITE_OK) {
                r = db_fail(c, sqlite_fail(rc), "migration 4");
                goto out;
        }
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
                const unsigned char *key = sqlite3_column_text(sel, 1);
                size_t len = (size_t)sqlite3_column_bytes(sel, 1);
                unsigned char digest[crypto_hash_sha256_BYTES];
                char hex[2 * crypto_hash_sha256_BYTES + 1], prefix[9] = "", suffix[5] = "";

                if (!key || len == 0)
                        continue; /* nothing to authenticate with; leave the row be */
                crypto_hash_sha256(digest, key, len);
                sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
                if (len >= LEGACY_KEY_HINT_MIN) {
                        memcpy(prefix, key, 8);
                        memcpy(suffix, key + len - 4, 4);
                }
                sqlite3_reset(upd);
                if (sqlite3_bind_value(upd, 1, sqlite3_column_value(sel, 0)) != SQLITE_OK ||
                    bind_text(upd, 2, hex) < 0 ||
                    bind_text(upd, 3, prefix[0] ? prefix : NULL) < 0 ||
                    bind_text(upd, 4, suffix[0] ? suffix : NULL) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                rc = sqlite3_step(upd);
                sodium_memzero(hex, sizeof(hex));
                if (rc != SQLITE_DONE) {
                        r = db_fail(c, sqlite_fail(rc), "migration 4");
                        goto out;
                }
                wiped++;
        }
        if (rc != SQLITE_DONE)
                r = db_fail(c, sqlite_fail(rc), "migration 4");
out:
        sqlite3_finalize(sel);
        sqlite3_finalize(upd);
        if (r >= 0)
                *ret_wiped += wiped;
        return r;
}

/*
 * Ours, version 5, for the administrator's console:
 *  - indexes behind its lists (user status and dates, device dates and
 *    versions, audit entries by user and device);
 *  - server_invitations: single-use, expiring invitations to register
 *    while registration is closed (SHA-256 of the token only);
 *  - counters in server_meta kept by triggers (operations, users by
 *    state, devices, vaults, blobs and their bytes, references and
 *    referenced blobs), so the overview never counts big tables;
 *  - an index on devices' last_seen for the newest sync activity;
 *  - server_users_search, a trigram full-text index of usernames and
 *    e-mail addresses kept by triggers, for the console's search by any
 *    part of either (keyed by the user id, not the rowid, which VACUUM
 *    may renumber).
 */
static const char migration_5[] =
        "CREATE INDEX idx_server_users_status ON server_users(blocked, confirmed);"
        "CREATE INDEX idx_server_users_created ON server_users(created_at);"
        "CREATE INDEX idx_server_users_last_seen ON server_users(last_seen);"
        "CREATE INDEX idx_server_devices_created ON server_devices(created_at);"
        "CREATE INDEX idx_server_devices_version ON server_devices(client_version);"
        "CREATE INDEX idx_server_audit_log_user ON server_audit_log(user_id);"
        "CREATE INDEX idx_server_audit_log_device ON server_audit_log(device_id);"
        "CREATE TABLE server_invitations ("
        "  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, email TEXT,"
        "  created_by TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
        "  used_at TEXT, used_by TEXT);"
        "CREATE INDEX idx_server_invitations_created ON server_invitations(created_at);"
        "CREATE INDEX idx_server_devices_last_seen ON server_devices(last_seen);"
        "CREATE VIRTUAL TABLE server_users_search USING fts5(id UNINDEXED, username, email,"
        "  tokenize = 'trigram');"
        "INSERT INTO server_users_search (id, username, email)"
        "  SELECT id, username, email FROM server_users;"
        "CREATE TRIGGER server_users_search_insert AFTER INSERT ON server_users BEGIN"
        "  INSERT INTO server_users_search (id, username, email)"
        "  VALUES (NEW.id, NEW.username, NEW.email); END;"
        "CREATE TRIGGER server_users_search_delete AFTER DELETE ON server_users BEGIN"
        "  DELETE FROM server_users_search WHERE id = OLD.id; END;"
        "CREATE TRIGGER server_users_search_update AFTER UPDATE OF username, email"
        "  ON server_users BEGIN"
        "  UPDATE server_users_search SET username = NEW.username, email = NEW.email"
        "  WHERE id = OLD.id; END;"
        "INSERT INTO server_meta (key, value)"
        "  SELECT 'ops_count', count(*) FROM server_ops"
        "  UNION ALL SELECT 'users', count(*) FROM server_users"
        "  UNION ALL SELECT 'users_blocked', count(*) FROM server_users WHERE blocked <> 0"
        "  UNION ALL SELECT 'users_unconfirmed', count(*) FROM server_users"
        "    WHERE blocked = 0 AND confirmed = 0"
        "  UNION ALL SELECT 'devices', count(*) FROM server_devices"
        "  UNION ALL SELECT 'devices_revoked', count(*) FROM server_devices"
        "    WHERE coalesce(revoked_at, '') <> ''"
        "  UNION ALL SELECT 'vaults', count(*) FROM (SELECT DISTINCT user_id, vault_id"
        "    FROM server_devices WHERE user_id IS NOT NULL AND vault_id IS NOT NULL)"
        "  UNION ALL SELECT 'blobs', count(*) FROM server_blobs"
        "  UNION ALL SELECT 'blob_bytes', coalesce(sum(size), 0) FROM server_blobs"
        "  UNION ALL SELECT 'blob_refs', count(*) FROM server_blob_refs"
        "  UNION ALL SELECT 'blobs_referenced', count(*) FROM"
        "    (SELECT DISTINCT sha256 FROM server_blob_refs)"
        "  UNION ALL SELECT 'audit_entries', count(*) FROM server_audit_log;"
        "CREATE TRIGGER server_audit_count_insert AFTER INSERT ON server_audit_log BEGIN"
        "  UPDATE server_meta SET value = value + 1 WHERE key = 'audit_entries'; END;"
        "CREATE TRIGGER server_audit_count_delete AFTER DELETE ON server_audit_log BEGIN"
        "  UPDATE server_meta SET value = value - 1 WHERE key = 'audit_entries'; END;"
        "CREATE TRIGGER server_ops_count_insert AFTER INSERT ON server_ops BEGIN"
        "  UPDATE server_meta SET value = value + 1 WHERE key = 'ops_count'; END;"
        "CREATE TRIGGER server_ops_count_delete AFTER DELETE ON server_ops BEGIN"
        "  UPDATE server_meta SET value = value - 1 WHERE key = 'ops_count'; END;"
        "CREATE TRIGGER server_users_count_insert AFTER INSERT ON server_users BEGIN"
        "  UPDATE server_meta SET value = value + CASE key WHEN 'users' THEN 1"
        "    WHEN 'users_blocked' THEN NEW.blocked <> 0"
        "    ELSE NEW.blocked = 0 AND NEW.confirmed = 0 END"
        "  WHERE key IN ('users', 'users_blocked', 'users_unconfirmed'); END;"
        "CREATE TRIGGER server_users_count_delete AFTER DELETE ON server_users BEGIN"
        "  UPDATE server_meta SET value = value - CASE key WHEN 'users' THEN 1"
        "    WHEN 'users_blocked' THEN OLD.blocked <> 0"
        "    ELSE OLD.blocked = 0 AND OLD.confirmed = 0 END"
        "  WHERE key IN ('users', 'users_blocked', 'users_unconfirmed'); END;"
        "CREATE TRIGGER server_users_count_update AFTER UPDATE OF blocked, confirmed"
        "  ON server_users BEGIN"
        "  UPDATE server_meta SET value = value + CASE key"
        "    WHEN 'users_blocked' THEN (NEW.blocked <> 0) - (OLD.blocked <> 0)"
        "    ELSE (NEW.blocked = 0 AND NEW.confirmed = 0) - (OLD.blocked = 0 AND OLD.confirmed = 0)"
        "    END"
        "  WHERE key IN ('users_blocked', 'users_unconfirmed'); END;"
        "CREATE TRIGGER server_devices_count_insert AFTER INSERT ON server_devices BEGIN"
        "  UPDATE server_meta SET value = value + CASE key WHEN 'devices' THEN 1"
        "    WHEN 'devices_revoked' THEN coalesce(NEW.revoked_at, '') <> ''"
        "    ELSE NEW.user_id IS NOT NULL AND NEW.vault_id IS NOT NULL AND"
        "      NOT EXISTS (SELECT 1 FROM server_devices WHERE user_id = NEW.user_id"
        "        AND vault_id = NEW.vault_id AND rowid <> NEW.rowid) END"
        "  WHERE key IN ('devices', 'devices_revoked', 'vaults'); END;"
        "CREATE TRIGGER server_devices_count_delete AFTER DELETE ON server_devices BEGIN"
        "  UPDATE server_meta SET value = value - CASE key WHEN 'devices' THEN 1"
        "    WHEN 'devices_revoked' THEN coalesce(OLD.revoked_at, '') <> ''"
        "    ELSE OLD.user_id IS NOT NULL AND OLD.vault_id IS NOT NULL AND"
        "      NOT EXISTS (SELECT 1 FROM server_devices WHERE user_id = OLD.user_id"
        "        AND vault_id = OLD.vault_id) END"
        "  WHERE key IN ('devices', 'devices_revoked', 'vaults'); END;"
        "CREATE TRIGGER server_devices_count_revoke AFTER UPDATE OF revoked_at ON server_devices"
        "  BEGIN UPDATE server_meta SET value = value"
        "    + (coalesce(NEW.revoked_at, '') <> '') - (coalesce(OLD.revoked_at, '') <> '')"
        "  WHERE key = 'devices_revoked'; END;"
        "CREATE TRIGGER server_devices_count_move AFTER UPDATE OF user_id, vault_id"
        "  ON server_devices WHEN OLD.user_id IS NOT NEW.user_id"
        "  OR OLD.vault_id IS NOT NEW.vault_id BEGIN"
        "  UPDATE server_meta SET value = value"
        "    - (OLD.user_id IS NOT NULL AND OLD.vault_id IS NOT NULL AND"
        "      NOT EXISTS (SELECT 1 FROM server_devices WHERE user_id = OLD.user_id"
        "        AND vault_id = OLD.vault_id))"
        "    + (NEW.user_id IS NOT NULL AND NEW.vault_id IS NOT NULL AND"
        "      NOT EXISTS (SELECT 1 FROM server_devices WHERE user_id = NEW.user_id"
        "        AND vault_id = NEW.vault_id AND rowid <> NEW.rowid))"
        "  WHERE key = 'vaults'; END;"
        "CREATE TRIGGER server_blobs_count_insert AFTER INSERT ON server_blobs BEGIN"
        "  UPDATE server_meta SET value = value + CASE key WHEN 'blobs' THEN 1 ELSE NEW.size END"
        "  WHERE key IN ('blobs', 'blob_bytes'); END;"
        "CREATE TRIGGER server_blobs_count_delete AFTER DELETE ON server_blobs BEGIN"
        "  UPDATE server_meta SET value = value - CASE key WHEN 'blobs' THEN 1 ELSE OLD.size END"
        "  WHERE key IN ('blobs', 'blob_bytes'); END;"
        "CREATE TRIGGER server_blob_refs_count_insert AFTER INSERT ON server_blob_refs BEGIN"
        "  UPDATE server_meta SET value = value + CASE key WHEN 'blob_refs' THEN 1"
        "    ELSE NOT EXISTS (SELECT 1 FROM server_blob_refs"
        "      WHERE sha256 = NEW.sha256 AND rowid <> NEW.rowid) END"
        "  WHERE key IN ('blob_refs', 'blobs_referenced'); END;"
        "CREATE TRIGGER server_blob_refs_count_delete AFTER DELETE ON server_blob_refs BEGIN"
        "  UPDATE server_meta SET value = value - CASE key WHEN 'blob_refs' THEN 1"
        "    ELSE NOT EXISTS (SELECT 1 FROM server_blob_refs WHERE sha256 = OLD.sha256) END"
        "  WHERE key IN ('blob_refs', 'blobs_referenced'); END;";

/*
 * Ours, version 6: the console's users by state in the default order
 * (newest first), so that a deep page of active or unconfirmed users is
 * cut from one index without reading each row for its state.
 */
static const char migration_6[] = "CREATE INDEX idx_server_users_status_created"
                                  "  ON server_users(blocked, confirmed, created_at);";

/*
 * Ours, version 7: each user's number of devices (revoked ones included)
 * kept in server_users.devices by triggers, with an index, so that the
 * console's users sorted by it are a walk of that index instead of a
 * count for every user.  A user row written while devices of it already
 * exist (a copy of a database, table by table) starts from their count.
 */
static const char migration_7[] =
        "ALTER TABLE server_users ADD COLUMN devices INTEGER NOT NULL DEFAULT 0;"
        "UPDATE server_users SET devices ="
        "  (SELECT count(*) FROM server_devices d WHERE d.user_id = server_users.id);"
        "CREATE INDEX idx_server_users_devices ON server_users(devices);"
        "CREATE TRIGGER server_users_devices_new AFTER INSERT ON server_users BEGIN"
        "  UPDATE server_users SET devices ="
        "    (SELECT count(*) FROM server_devices d WHERE d.user_id = NEW.id)"
        "  WHERE id = NEW.id; END;"
        "CREATE TRIGGER server_devices_user_insert AFTER INSERT ON server_devices"
        "  WHEN NEW.user_id IS NOT NULL BEGIN"
        "  UPDATE server_users SET devices = devices + 1 WHERE id = NEW.user_id; END;"
        "CREATE TRIGGER server_devices_user_delete AFTER DELETE ON server_devices"
        "  WHEN OLD.user_id IS NOT NULL BEGIN"
        "  UPDATE server_users SET devices = devices - 1 WHERE id = OLD.user_id; END;"
        "CREATE TRIGGER server_devices_user_move AFTER UPDATE OF user_id ON server_devices"
        "  WHEN OLD.user_id IS NOT NEW.user_id BEGIN"
        "  UPDATE server_users SET devices = devices + CASE id WHEN NEW.user_id THEN 1 ELSE -1 END"
        "  WHERE id IN (OLD.user_id, NEW.user_id); END;";

/*
 * Ours, version 8: conflicts are looked up through a short index of
 * entity keys (store/store_entity_key.h) instead of one over the four
 * text columns.  The same migration runs on PostgreSQL.
 */
static int migration_8_step(struct db_conn *c, unsigned *ret_wiped)
{
        (void)ret_wiped;
        return store_entity_key_migrate(c);
}

/*
 * Ours, version 9: server_meta's ops_count is kept by the push that
 * inserts the ops (store_ops.c adds what each push stored), no longer by
 * a trigger per inserted row.  The trigger made every insert of an op a
 * statement that writes two tables and may abort, which SQLite runs with
 * a statement journal (a copy of every page the insert touches) besides
 * the trigger's own program: together 40 % of the writer thread's
 * instructions.  Deletes keep their trigger (they come with a user's
 * removal, all at once).
 */
static const char migration_9[] = "DROP TRIGGER IF EXISTS server_ops_count_insert;"
                                  "UPDATE server_meta SET value = (SELECT count(*) FROM server_ops)"
                                  "  WHERE key = 'ops_count';";

struct migration {
        unsigned version;
        const char *sql;
        /* Run after sql, in the same transaction; counts the secrets it
         * removed from the database into *ret_wiped. */
        int (*step)(struct db_conn *c, unsigned *ret_wiped);
};

static const struct migration migrations[] = {
        {1, NULL, NULL}, /* the existing server's first schema: subsumed by 2 */
        {2, migration_2_legacy, NULL},
        {3, migration_3, NULL},
        {4, NULL, migration_4_step},
        {5, migration_5, NULL},
        {6, migration_6, NULL},
        {7, migration_7, NULL},
        {8, NULL, migration_8_step},
        {9, migration_9, NULL},
};

static int query_int(struct db_conn *c, const char *sql, int64_t *ret)
{
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(sqlite_db(c), sql, -1, &st, NULL);

        if (rc != SQLITE_OK)
                return db_fail(c, sqlite_fail(rc), "migration query");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : db_fail(c, sqlite_fail(rc), "migration query");
}

static int run_migration(struct db_conn *c, const struct migration *m, unsigned *ret_wiped)
{
        char bump[64];
        int64_t ops_before = 0, ops_after = 0;
        int r;

        r = db_exec(c, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        if (m->version == 3) {
                r = query_int(c, "SELECT count(*) FROM server_ops", &ops_before);
                if (r < 0)
                        goto rollback;
        }
        if (m->sql) {
                r = db_exec(c, m->sql);
                if (r < 0)
                        goto rollback;
        }
        if (m->step) {
                r = m->step(c, ret_wiped);
                if (r < 0)
                        goto rollback;
        }
        if (m->version == 3) {
                /* Nothing may be lost in the table rebuild. */
                r = query_int(c, "SELECT count(*) FROM server_ops", &ops_after);
                if (r < 0)
                        goto rollback;
                if (ops_after != ops_before) {
                        log_error("database: migration 3 would change the number of operations "
                                  "(%lld -> %lld); refusing",
                                  (long long)ops_before, (long long)ops_after);
                        r = -EIO;
                        goto rollback;
                }
        }
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%u", m->version);
        r = db_exec(c, bump);
        if (r < 0)
                goto rollback;
        r = db_exec(c, "COMMIT");
        if (r < 0)
                goto rollback;
        return 0;
rollback:
        (void)sqlite3_exec(sqlite_db(c), "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int sqlite_migrate(struct db_conn *c, unsigned *ret_migrated)
{
        int64_t version = 0;
        unsigned n = 0, wiped = 0;
        int r;

        r = query_int(c, "PRAGMA user_version", &version);
        if (r < 0)
                return r;
        if (version > STORE_SCHEMA_VERSION) {
                log_error("database: schema version %lld is newer than this build supports (%d)",
                          (long long)version, STORE_SCHEMA_VERSION);
                return -EPROTONOSUPPORT;
        }
        for (size_t i = 0; i < ELEMENTSOF(migrations); i++) {
                if (migrations[i].version <= (unsigned)version)
                        continue;
                r = run_migration(c, &migrations[i], &wiped);
                if (r < 0) {
                        log_error("database: migration to schema version %u failed",
                                  migrations[i].version);
                        return r;
                }
                n++;
        }
        if (wiped > 0) {
                /* Rewrite the file so that no copy of a removed secret is
                 * left in free space, free pages or the WAL. */
                r = sqlite_scrub(c);
                if (r < 0) {
                        log_error("database: cannot rewrite the file after removing %u "
                                  "plaintext keys",
                                  wiped);
                        return r;
                }
                log_notice("database: %u device keys of the earlier server are now stored as "
                           "hashes; the file was rewritten without their plaintext",
                           wiped);
        }
        if (ret_migrated)
                *ret_migrated = n;
        return 0;
}
