/* SPDX-License-Identifier: MIT */
/*
 * Administrator accounts (server_admins) and the summary counters shown in
 * STATUS= and the console.  Ids and hashes come from the caller: the store
 * never generates secrets.
 */
#include <errno.h>
#include <stdlib.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

static const char sql_admin_insert[] =
        "INSERT INTO server_admins (id, username, password_hash, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(username) DO NOTHING";
static const char sql_admin_update[] =
        "UPDATE server_admins SET password_hash = ?2, updated_at = ?3 WHERE username = ?1";
static const char sql_admin_get[] =
        "SELECT id, password_hash FROM server_admins WHERE username = ?1";
static const char sql_admin_username[] = "SELECT username FROM server_admins WHERE id = ?1";
static const char sql_admin_set_hash[] =
        "UPDATE server_admins SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";

static int admin_insert(struct store_conn *c, const char *id, const char *username,
                        const char *hash)
{
        char now[21];
        _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_admin_insert);
        int rc;

        if (!st)
                return -EIO;
        store_now(now);
        store_bind_text(st, 1, id);
        store_bind_text(st, 2, username);
        store_bind_text(st, 3, hash);
        store_bind_text(st, 4, now);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return store_errno(c, rc, "insert admin");
        return sqlite3_changes(c->db) > 0 ? 1 : 0;
}

int store_admin_upsert(struct store *s, const char *new_id, const char *username,
                       const char *password_hash)
{
        struct store_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = admin_insert(c, new_id, username, password_hash);
        if (r == 0) {
                char now[21];
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_admin_update);
                if (!st)
                        r = -EIO;
                else {
                        store_now(now);
                        store_bind_text(st, 1, username);
                        store_bind_text(st, 2, password_hash);
                        store_bind_text(st, 3, now);
                        int rc = sqlite3_step(st);
                        r = rc == SQLITE_DONE ? 0 : store_errno(c, rc, "update admin");
                }
        }
        return store_write_end(s, c, r, true);
}

int store_admin_import(struct store *s, const char *new_id, const char *username,
                       const char *password_hash)
{
        struct store_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = admin_insert(c, new_id, username, password_hash);
        return store_write_end(s, c, r, true);
}

int store_admin_get(struct store *s, const char *username, char **ret_id, char **ret_hash)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_admin_get);
                if (!st)
                        r = -EIO;
                else {
                        store_bind_text(st, 1, username);
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_ROW) {
                                _cleanup_free_ char *id = store_column_strdup(st, 0);
                                _cleanup_free_ char *hash = store_column_strdup(st, 1);
                                if (!id || !hash)
                                        r = -ENOMEM;
                                else {
                                        if (ret_id)
                                                *ret_id = TAKE_PTR(id);
                                        if (ret_hash)
                                                *ret_hash = TAKE_PTR(hash);
                                        r = 0;
                                }
                        } else
                                r = rc == SQLITE_DONE ? -ENOENT : store_errno(c, rc, "get admin");
                }
        }
        store_read_end(s, c);
        return r;
}

int store_admin_username(struct store *s, const char *id, char **ret_username)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_admin_username);
                if (!st)
                        r = -EIO;
                else {
                        store_bind_text(st, 1, id);
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_ROW) {
                                char *name = store_column_strdup(st, 0);
                                r = name ? 0 : -ENOMEM;
                                if (name)
                                        *ret_username = name;
                        } else
                                r = rc == SQLITE_DONE ? -ENOENT
                                                      : store_errno(c, rc, "get admin name");
                }
        }
        store_read_end(s, c);
        return r;
}

int store_admin_set_password_hash(struct store *s, const char *id, const char *password_hash)
{
        struct store_conn *c;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_admin_set_hash);
                if (!st)
                        r = -EIO;
                else {
                        store_now(now);
                        store_bind_text(st, 1, id);
                        store_bind_text(st, 2, password_hash);
                        store_bind_text(st, 3, now);
                        int rc = sqlite3_step(st);
                        r = rc != SQLITE_DONE             ? store_errno(c, rc, "set admin hash")
                            : sqlite3_changes(c->db) == 0 ? -ENOENT
                                                          : 0;
                }
        }
        return store_write_end(s, c, r, true);
}

static const char sql_counts[] =
        "SELECT (SELECT count(*) FROM server_users),"
        " (SELECT count(*) FROM server_devices WHERE revoked_at IS NULL OR revoked_at = ''),"
        " (SELECT count(*) FROM server_ops),"
        " (SELECT value FROM server_meta WHERE key = 'last_sequence')";

int store_get_counts(struct store *s, struct store_counts *ret)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_counts);
                if (!st)
                        r = -EIO;
                else {
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_ROW) {
                                ret->users = sqlite3_column_int64(st, 0);
                                ret->devices = sqlite3_column_int64(st, 1);
                                ret->ops = sqlite3_column_int64(st, 2);
                                ret->last_sequence = sqlite3_column_int64(st, 3);
                                r = 0;
                        } else
                                r = store_errno(c, rc, "counts");
                }
        }
        store_read_end(s, c);
        return r;
}
