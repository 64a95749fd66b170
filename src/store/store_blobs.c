/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_blobs.h: every SQL statement about blobs. */
#include "store/store_blobs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/text.h"

/* Callers: store_blob_ref_size, store_blob_ref_get (push-time checks,
 * downloads). */
static const struct db_sql sql_ref_get = {
        "SELECT size, coalesce(CAST(strftime('%s', last_accessed) AS INTEGER), 0)"
        " FROM server_blob_refs WHERE user_id = ?1 AND vault_id = ?2 AND sha256 = ?3",
        .pg = "SELECT size, coalesce(CAST(extract(epoch FROM CAST(last_accessed AS timestamptz))"
              " AS BIGINT), 0)"
              " FROM server_blob_refs WHERE user_id = ?1 AND vault_id = ?2 AND sha256 = ?3"};
/* Callers: store_blob_ref_touch. */
static const struct db_sql sql_ref_touch = {
        "UPDATE server_blob_refs SET last_accessed = ?4"
        " WHERE user_id = ?1 AND vault_id = ?2 AND sha256 = ?3"};
/* Callers: store_blob_ref_add (inside its transaction): whether the
 * uploading device was revoked, or its owner blocked, meanwhile. */
static const struct db_sql sql_device_state = {
        "SELECT coalesce(d.revoked_at, '') <> '', coalesce(u.blocked, 0) FROM server_devices d"
        " LEFT JOIN server_users u ON u.id = d.user_id WHERE d.id = ?1"};
/* Callers: store_blob_ref_add (inside its transaction). */
static const struct db_sql sql_ref_insert = {
        "INSERT INTO server_blob_refs (user_id, vault_id, sha256, size, created_at, last_accessed)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)"};
static const struct db_sql sql_blob_upsert = {
        "INSERT INTO server_blobs (sha256, size, created_at) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (sha256) DO UPDATE SET size = excluded.size"};
/* Callers: store_blob_ref_add, store_blob_usage_scope. */
static const struct db_sql sql_usage_scope = {
        "SELECT coalesce(sum(size), 0), count(*) FROM server_blob_refs"
        " WHERE user_id = ?1 AND vault_id = ?2"};
/* Callers: store_blob_ref_add, store_blob_usage_user. */
static const struct db_sql sql_usage_user = {
        "SELECT coalesce(sum(size), 0), count(*) FROM server_blob_refs WHERE user_id = ?1"};
/* Callers: store_blob_is_referenced, store_blob_forget_unreferenced. */
static const struct db_sql sql_ref_any = {
        "SELECT 1 FROM server_blob_refs WHERE sha256 = ?1 LIMIT 1"};
/* Callers: store_blob_forget_unreferenced. */
static const struct db_sql sql_blob_delete = {"DELETE FROM server_blobs WHERE sha256 = ?1"};
/* Callers: store_blob_list_unreferenced (garbage collection). */
static const struct db_sql sql_blob_unreferenced = {
        "SELECT b.sha256 FROM server_blobs b WHERE NOT EXISTS"
        " (SELECT 1 FROM server_blob_refs r WHERE r.sha256 = b.sha256) ORDER BY b.sha256"};

/* The integer columns 0 and 1 of a row (either may be left out). */
struct int_pair {
        int64_t *v0, *v1;
};

static int read_int_pair(struct db_stmt *st, void *ret)
{
        struct int_pair *p = ret;

        if (p->v0)
                *p->v0 = db_column_int64(st, 0);
        if (p->v1)
                *p->v1 = db_column_int64(st, 1);
        return 0;
}

/* 1 for a row, 0 for none, or a negative errno: the "is there" answer of
 * store_query_one()/store_read_one(). */
static int row_found(int r)
{
        return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

int store_blob_ref_size(struct store *s, const struct store_scope *scope, const char *sha256,
                        int64_t *ret_size)
{
        struct int_pair row = {.v0 = ret_size};

        return STORE_READ_ONE(s, &sql_ref_get, "get blob ref", read_int_pair, &row, scope->user_id,
                              scope->vault_id, sha256);
}

int store_blob_ref_get(struct store *s, const struct store_scope *scope, const char *sha256,
                       int64_t *ret_size, time_t *ret_last_accessed)
{
        int64_t size = 0, last = 0;
        struct int_pair row = {&size, &last};
        int r = STORE_READ_ONE(s, &sql_ref_get, "get blob ref", read_int_pair, &row, scope->user_id,
                               scope->vault_id, sha256);

        if (r < 0)
                return r;
        *ret_size = size;
        *ret_last_accessed = (time_t)last;
        return 0;
}

int store_blob_ref_touch(struct store *s, const struct store_scope *scope, const char *sha256)
{
        struct db_conn *c;
        char now[TIME_RFC3339_SIZE];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        store_now(now);
        r = STORE_RUN(c, &sql_ref_touch, "touch blob ref", scope->user_id, scope->vault_id, sha256,
                      now);
        if (r == 0)
                r = -ENOENT;
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

/* Whether adding size bytes to used stays within max. */
static bool fits(int64_t used, int64_t size, uint64_t max)
{
        return used >= 0 && size >= 0 && (uint64_t)used + (uint64_t)size <= max;
}

static int add_in_transaction(struct db_conn *c, const struct store_scope *scope,
                              const char *sha256, int64_t size,
                              const struct store_blob_quota *quota)
{
        int64_t used = 0;
        struct int_pair usage = {.v0 = &used}, none = {0};
        char now[TIME_RFC3339_SIZE];
        int r;

        r = row_found(STORE_QUERY_ONE(c, &sql_ref_get, "get blob ref", read_int_pair, &none,
                                      scope->user_id, scope->vault_id, sha256));
        if (r != 0)
                return r < 0 ? r : 0; /* already referenced: a no-op */

        r = STORE_QUERY_ONE(c, &sql_usage_scope, "vault blob usage", read_int_pair, &usage,
                            scope->user_id, scope->vault_id);
        if (r < 0)
                return r;
        if (!fits(used, size, quota->max_vault_bytes))
                return -EDQUOT;
        r = STORE_QUERY_ONE(c, &sql_usage_user, "user blob usage", read_int_pair, &usage,
                            scope->user_id);
        if (r < 0)
                return r;
        if (!fits(used, size, quota->max_user_bytes))
                return -EDQUOT;

        /* The only statements here with an integer parameter (the size). */
        store_now(now);
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_blob_upsert);
                if (!st || db_bind_text(st, 1, sha256) < 0 || db_bind_int64(st, 2, size) < 0 ||
                    db_bind_text(st, 3, now) < 0)
                        return -EIO;
                int rc = db_step(st);
                if (rc != DB_DONE)
                        return db_fail(c, rc, "insert blob");
        }
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_ref_insert);
                if (!st ||
                    db_bind_texts(st,
                                  (const char *const[]){scope->user_id, scope->vault_id, sha256},
                                  3) < 0 ||
                    db_bind_int64(st, 4, size) < 0 || db_bind_text(st, 5, now) < 0)
                        return -EIO;
                int rc = db_step(st);
                if (rc != DB_DONE)
                        return db_fail(c, rc, "insert blob ref");
        }
        return 1;
}

/* 0 while device_id may still act; -EKEYREVOKED when it was revoked (or
 * deleted), -EPERM when its owner was blocked. */
static int device_may_act(struct db_conn *c, const char *device_id)
{
        int64_t revoked = 0, blocked = 0;
        struct int_pair row = {&revoked, &blocked};
        int r = row_found(STORE_QUERY_ONE(c, &sql_device_state, "check device", read_int_pair, &row,
                                          device_id));

        if (r < 0)
                return r;
        if (r == 0 || revoked)
                return -EKEYREVOKED;
        return blocked ? -EPERM : 0;
}

int store_blob_ref_add(struct store *s, const struct store_scope *scope, const char *device_id,
                       const char *sha256, int64_t size, const struct store_blob_quota *quota)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = device_id ? device_may_act(c, device_id) : 0;
        if (r >= 0)
                r = add_in_transaction(c, scope, sha256, size, quota);
        return store_write_end(s, c, r, r > 0);
}

int store_blob_usage_scope(struct store *s, const struct store_scope *scope,
                           struct store_blob_usage *ret)
{
        struct int_pair row = {&ret->bytes, &ret->blobs};
        int r = STORE_READ_ONE(s, &sql_usage_scope, "vault blob usage", read_int_pair, &row,
                               scope->user_id, scope->vault_id);
        return r < 0 ? r : 0;
}

int store_blob_usage_user(struct store *s, const char *user_id, struct store_blob_usage *ret)
{
        struct int_pair row = {&ret->bytes, &ret->blobs};
        int r = STORE_READ_ONE(s, &sql_usage_user, "user blob usage", read_int_pair, &row, user_id);
        return r < 0 ? r : 0;
}

int store_blob_is_referenced(struct store *s, const char *sha256)
{
        struct int_pair none = {0};

        return row_found(
                STORE_READ_ONE(s, &sql_ref_any, "find blob ref", read_int_pair, &none, sha256));
}

int store_blob_forget_unreferenced(struct store *s, const char *sha256, bool *ret_row_deleted)
{
        struct int_pair none = {0};
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = row_found(
                STORE_QUERY_ONE(c, &sql_ref_any, "find blob ref", read_int_pair, &none, sha256));
        if (r == 0) {
                r = STORE_RUN(c, &sql_blob_delete, "delete blob", sha256);
                if (r >= 0) {
                        if (ret_row_deleted)
                                *ret_row_deleted = r > 0;
                        r = 1;
                }
        } else if (r > 0)
                r = 0; /* referenced */
        return store_write_end(s, c, r, r > 0);
}

int store_blob_list_unreferenced(struct store *s, char (**ret)[65], size_t *ret_n)
{
        struct db_conn *c;
        char(*list)[65] = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_blob_unreferenced);
                int rc = DB_DONE;
                if (!st)
                        r = -EIO;
                while (st && (rc = db_step(st)) == DB_ROW) {
                        const char *sha = db_column_text(st, 0);
                        if (strlen(sha) != 64)
                                continue; /* not a name a file could have */
                        if (n == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                char(*nl)[65] = realloc(list, ncap * sizeof(*list));
                                if (!nl) {
                                        r = -ENOMEM;
                                        break;
                                }
                                list = nl;
                                cap = ncap;
                        }
                        memcpy(list[n++], sha, 65);
                }
                if (r >= 0 && st && rc != DB_DONE)
                        r = db_fail(c, rc, "list unreferenced blobs");
        }
        store_read_end(s, c);
        if (r < 0) {
                free(list);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}
