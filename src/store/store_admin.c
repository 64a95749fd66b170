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

static const struct db_sql sql_admin_insert = {
        "INSERT INTO server_admins (id, username, password_hash, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(username) DO NOTHING"};
static const struct db_sql sql_admin_update = {
        "UPDATE server_admins SET password_hash = ?2, updated_at = ?3 WHERE username = ?1"};
static const struct db_sql sql_admin_get = {
        "SELECT id, password_hash FROM server_admins WHERE username = ?1"};
static const struct db_sql sql_admin_username = {
        "SELECT username FROM server_admins WHERE id = ?1"};
static const struct db_sql sql_admin_set_hash = {
        "UPDATE server_admins SET password_hash = ?2, updated_at = ?3 WHERE id = ?1"};

/* In a writer transaction: add the administrator unless the name is
 * taken.  1 when added, 0 when taken, or a negative errno. */
static int admin_insert(struct db_conn *c, const char *id, const char *username, const char *hash)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_RUN(c, &sql_admin_insert, "insert admin", id, username, hash, now);
        return r < 0 ? r : r > 0;
}

int store_admin_upsert(struct store *s, const char *new_id, const char *username,
                       const char *password_hash)
{
        struct db_conn *c;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = admin_insert(c, new_id, username, password_hash);
        if (r == 0) {
                store_now(now);
                r = STORE_RUN(c, &sql_admin_update, "update admin", username, password_hash, now);
                if (r > 0)
                        r = 0;
        }
        return store_write_end(s, c, r, true);
}

int store_admin_import(struct store *s, const char *new_id, const char *username,
                       const char *password_hash)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = admin_insert(c, new_id, username, password_hash);
        return store_write_end(s, c, r, true);
}

struct admin_row {
        char *id;
        char *hash;
};

static int read_admin(struct db_stmt *st, void *ret)
{
        struct admin_row *a = ret;

        a->id = db_column_strdup(st, 0);
        a->hash = db_column_strdup(st, 1);
        if (!a->id || !a->hash) {
                free(a->id);
                free(a->hash);
                *a = (struct admin_row){0};
                return -ENOMEM;
        }
        return 0;
}

int store_admin_get(struct store *s, const char *username, char **ret_id, char **ret_hash)
{
        struct admin_row a = {0};
        int r = STORE_READ_ONE(s, &sql_admin_get, "get admin", read_admin, &a, username);

        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = TAKE_PTR(a.id);
        if (ret_hash)
                *ret_hash = TAKE_PTR(a.hash);
        free(a.id);
        free(a.hash);
        return 0;
}

int store_admin_username(struct store *s, const char *id, char **ret_username)
{
        return STORE_READ_ONE(s, &sql_admin_username, "get admin name", store_row_string,
                              ret_username, id);
}

int store_admin_set_password_hash(struct store *s, const char *id, const char *password_hash)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_admin_set_hash, "set admin hash", id, password_hash, now);
        return r == 0 ? -ENOENT : r < 0 ? r : 0;
}

static const struct db_sql sql_counts = {
        "SELECT (SELECT count(*) FROM server_users),"
        " (SELECT count(*) FROM server_devices WHERE revoked_at IS NULL OR revoked_at = ''),"
        " (SELECT count(*) FROM server_ops),"
        " (SELECT value FROM server_meta WHERE key = 'last_sequence')"};

static int read_counts(struct db_stmt *st, void *ret)
{
        struct store_counts *c = ret;

        c->users = db_column_int64(st, 0);
        c->devices = db_column_int64(st, 1);
        c->ops = db_column_int64(st, 2);
        c->last_sequence = db_column_int64(st, 3);
        return 0;
}

int store_get_counts(struct store *s, struct store_counts *ret)
{
        return store_read_one(s, &sql_counts, "counts", read_counts, ret, NULL, 0);
}
