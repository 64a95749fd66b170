/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_devices.h. */
#include "store/store_devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

#define DEVICE_COLUMNS                                                                             \
        "d.id, coalesce(d.user_id, ''), coalesce(d.vault_id, ''), d.name,"                         \
        " coalesce(d.client_version, ''), coalesce(d.token_hash, ''),"                             \
        " coalesce(d.token_prefix, ''), coalesce(d.token_suffix, ''), coalesce(d.last_ip, ''),"    \
        " coalesce(d.last_seen, ''), coalesce(d.revoked_at, ''), d.created_at,"                    \
        " coalesce(u.username, ''), coalesce(u.blocked, 0)"

static const struct db_sql sql_device_by_token = {"SELECT " DEVICE_COLUMNS
                                                  " FROM server_devices d LEFT JOIN server_users u"
                                                  " ON u.id = d.user_id WHERE d.token_hash = ?1"};
static const struct db_sql sql_device_by_id = {"SELECT " DEVICE_COLUMNS
                                               " FROM server_devices d LEFT JOIN server_users u"
                                               " ON u.id = d.user_id WHERE d.id = ?1"};
static const struct db_sql sql_device_list = {
        "SELECT " DEVICE_COLUMNS " FROM server_devices d LEFT JOIN server_users u"
        " ON u.id = d.user_id WHERE d.user_id = ?1 ORDER BY d.created_at DESC, d.id"};
/* api_key is the existing server's legacy column (NOT NULL UNIQUE); it
 * never holds a secret: "disabled:<id>" as the existing server wrote. */
static const struct db_sql sql_device_insert = {
        "INSERT INTO server_devices (id, name, api_key, token_hash, token_prefix, token_suffix,"
        " legacy_api_key, user_id, vault_id, client_version, last_ip, last_seen, created_at)"
        " VALUES (?1, ?2, 'disabled:' || ?1, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?10)"};
static const struct db_sql sql_user_device_insert = {
        "INSERT OR IGNORE INTO server_user_devices (user_id, device_id) VALUES (?1, ?2)",
        .pg = "INSERT INTO server_user_devices (user_id, device_id) VALUES (?1, ?2)"
              " ON CONFLICT DO NOTHING"};
static const struct db_sql sql_device_touch = {
        "UPDATE server_devices SET last_seen = ?2, last_ip = ?3 WHERE id = ?1"};
static const struct db_sql sql_device_revoke = {
        "UPDATE server_devices SET revoked_at = coalesce(nullif(revoked_at, ''), ?2) WHERE id = "
        "?1"};
static const struct db_sql sql_audit_expire = {
        "DELETE FROM server_audit_log WHERE created_at < ?1"};
static const struct db_sql sql_audit_insert = {
        "INSERT INTO server_audit_log (event_type, user_id, device_id, ip, message, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};

void store_device_done(struct store_device *d)
{
        if (!d)
                return;
        free(d->id);
        free(d->user_id);
        free(d->vault_id);
        free(d->name);
        free(d->client_version);
        free(d->token_hash);
        free(d->token_prefix);
        free(d->token_suffix);
        free(d->last_ip);
        free(d->last_seen);
        free(d->revoked_at);
        free(d->created_at);
        free(d->owner_username);
        memset(d, 0, sizeof(*d));
}

static int read_device(struct db_stmt *st, void *ret)
{
        struct store_device d = {
                .id = db_column_strdup(st, 0),
                .user_id = db_column_strdup(st, 1),
                .vault_id = db_column_strdup(st, 2),
                .name = db_column_strdup(st, 3),
                .client_version = db_column_strdup(st, 4),
                .token_hash = db_column_strdup(st, 5),
                .token_prefix = db_column_strdup(st, 6),
                .token_suffix = db_column_strdup(st, 7),
                .last_ip = db_column_strdup(st, 8),
                .last_seen = db_column_strdup(st, 9),
                .revoked_at = db_column_strdup(st, 10),
                .created_at = db_column_strdup(st, 11),
                .owner_username = db_column_strdup(st, 12),
                .owner_blocked = (int)db_column_int64(st, 13) != 0,
        };
        if (!d.id || !d.user_id || !d.vault_id || !d.name || !d.client_version || !d.token_hash ||
            !d.token_prefix || !d.token_suffix || !d.last_ip || !d.last_seen || !d.revoked_at ||
            !d.created_at || !d.owner_username) {
                store_device_done(&d);
                return -ENOMEM;
        }
        *(struct store_device *)ret = d;
        return 0;
}

static int query_device(struct store *s, const struct db_sql *sql, const char *arg,
                        struct store_device *ret)
{
        return STORE_READ_ONE(s, sql, "get device", read_device, ret, arg);
}

int store_device_by_token_hash(struct store *s, const char *token_hash, struct store_device *ret)
{
        return query_device(s, &sql_device_by_token, token_hash, ret);
}

int store_device_get(struct store *s, const char *id, struct store_device *ret)
{
        return query_device(s, &sql_device_by_id, id, ret);
}

static int audit_insert(struct db_conn *c, const char *event, const char *user_id,
                        const char *device_id, const char *ip, const char *message)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_RUN(c, &sql_audit_insert, "insert audit entry", event, user_id, device_id, ip,
                      message, now);
        return r < 0 ? r : 0;
}

int store_device_create(struct store *s, const struct store_device_new *d)
{
        struct db_conn *c;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        store_now(now);
        r = STORE_RUN(c, &sql_device_insert, "insert device", d->id, d->name, d->token_hash,
                      d->token_prefix, d->token_suffix, d->user_id, d->vault_id, d->client_version,
                      d->ip, now);
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_device_insert, "insert user device", d->user_id, d->id);
        if (r >= 0) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "device paired: %s", d->name) < 0)
                        r = -ENOMEM;
                else
                        r = audit_insert(c, "device_paired", d->user_id, d->id, d->ip, msg);
        }
        return store_write_end(s, c, r, true);
}

int store_device_touch(struct store *s, const char *id, const char *ip)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_device_touch, "update device", id, now, ip);
        return r == 0 ? -ENOENT : r < 0 ? r : 0;
}

/* The owner's id (column 1 of DEVICE_COLUMNS) as a new string. */
static int read_owner(struct db_stmt *st, void *ret)
{
        char *v = db_column_strdup(st, 1);

        if (!v)
                return -ENOMEM;
        *(char **)ret = v;
        return 0;
}

int store_device_revoke(struct store *s, const char *id, const char *ip, const char *message)
{
        struct db_conn *c = NULL;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        store_now(now);
        r = STORE_RUN(c, &sql_device_revoke, "revoke device", id, now);
        if (r == 0)
                r = -ENOENT;
        if (r < 0)
                goto out;
        {
                _cleanup_free_ char *user_id = NULL;
                /* The audit entry names the owner when it can be read. */
                r = STORE_QUERY_ONE(c, &sql_device_by_id, "get device", read_owner, &user_id, id);
                if (r >= 0 || r == -ENOENT)
                        r = audit_insert(c, "device_revoked", user_id, id, ip, message);
        }
out:
        return store_write_end(s, c, r, true);
}

int store_device_list_for_user(struct store *s, const char *user_id, struct store_device **ret,
                               size_t *ret_n)
{
        struct db_conn *c;
        struct store_device *list = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_device_list);
                if (!st || db_bind_text(st, 1, user_id) < 0) {
                        r = -EIO;
                        goto out;
                }
                for (;;) {
                        int rc = db_step(st);
                        if (rc == DB_DONE)
                                break;
                        if (rc != DB_ROW) {
                                r = db_fail(c, rc, "list devices");
                                goto out;
                        }
                        if (n == cap) {
                                size_t ncap = cap ? cap * 2 : 8;
                                struct store_device *nl = realloc(list, ncap * sizeof(*nl));
                                if (!nl) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                list = nl;
                                cap = ncap;
                        }
                        r = read_device(st, &list[n]);
                        if (r < 0)
                                goto out;
                        n++;
                }
        }
        r = 0;
out:
        store_read_end(s, c);
        if (r < 0) {
                store_device_list_free(list, n);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

void store_device_list_free(struct store_device *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                store_device_done(&list[i]);
        free(list);
}

int store_audit_add(struct store *s, const char *event, const char *user_id, const char *device_id,
                    const char *ip, const char *message)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = audit_insert(c, event, user_id, device_id, ip, message);
        return store_write_end(s, c, r, true);
}

int store_audit_expire(struct store *s, const char *cutoff)
{
        return STORE_WRITE_ONE(s, &sql_audit_expire, "expire audit entries", cutoff);
}
