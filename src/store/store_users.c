/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_users.h. */
#include "store/store_users.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

#define USER_COLUMNS                                                                               \
        "id, username, email, password_hash, coalesce(locale, ''), coalesce(last_seen, ''),"       \
        " created_at, confirmed, blocked"

static const struct db_sql sql_user_by_login = {
        "SELECT " USER_COLUMNS " FROM server_users WHERE username = ?1"
        " UNION ALL SELECT " USER_COLUMNS " FROM server_users"
        " WHERE email = lower(?1) AND username <> ?1 LIMIT 1"};
static const struct db_sql sql_user_by_email = {"SELECT " USER_COLUMNS
                                                " FROM server_users WHERE email = ?1"};
static const struct db_sql sql_user_by_id = {"SELECT " USER_COLUMNS
                                             " FROM server_users WHERE id = ?1"};
static const struct db_sql sql_user_set_hash = {
        "UPDATE server_users SET password_hash = ?2 WHERE id = ?1"};
static const struct db_sql sql_user_bcrypt_cost = {
        "SELECT max(CAST(substr(h, 5, 2) AS INTEGER)) FROM"
        " (SELECT password_hash AS h FROM server_users"
        "  UNION ALL SELECT password_hash FROM server_admins) AS hashes"
        " WHERE substr(h, 1, 2) = ?1"};
static const struct db_sql sql_user_touch = {
        "UPDATE server_users SET last_seen = ?2 WHERE id = ?1"};

void store_user_done(struct store_user *u)
{
        if (!u)
                return;
        free(u->id);
        free(u->username);
        free(u->email);
        if (u->password_hash) {
                sodium_memzero(u->password_hash, strlen(u->password_hash));
                free(u->password_hash);
        }
        free(u->locale);
        free(u->last_seen);
        free(u->created_at);
        memset(u, 0, sizeof(*u));
}

static int read_user(struct db_stmt *st, void *ret)
{
        struct store_user u = {
                .id = db_column_strdup(st, 0),
                .username = db_column_strdup(st, 1),
                .email = db_column_strdup(st, 2),
                .password_hash = db_column_strdup(st, 3),
                .locale = db_column_strdup(st, 4),
                .last_seen = db_column_strdup(st, 5),
                .created_at = db_column_strdup(st, 6),
                .confirmed = (int)db_column_int64(st, 7) != 0,
                .blocked = (int)db_column_int64(st, 8) != 0,
        };
        if (!u.id || !u.username || !u.email || !u.password_hash || !u.locale || !u.last_seen ||
            !u.created_at) {
                store_user_done(&u);
                return -ENOMEM;
        }
        *(struct store_user *)ret = u;
        return 0;
}

static int query_user(struct store *s, const struct db_sql *sql, const char *arg,
                      struct store_user *ret)
{
        return STORE_READ_ONE(s, sql, "get user", read_user, ret, arg);
}

int store_user_find_by_login(struct store *s, const char *login, struct store_user *ret)
{
        return query_user(s, &sql_user_by_login, login, ret);
}

int store_user_find_by_email(struct store *s, const char *email, struct store_user *ret)
{
        return query_user(s, &sql_user_by_email, email, ret);
}

int store_user_get(struct store *s, const char *id, struct store_user *ret)
{
        return query_user(s, &sql_user_by_id, id, ret);
}

/* One UPDATE by user id; -ENOENT when no such user. */
static int update_user(struct store *s, const struct db_sql *sql, const char *id, const char *value)
{
        int r = STORE_WRITE_ONE(s, sql, "update user", id, value);
        return r == 0 ? -ENOENT : r < 0 ? r : 0;
}

int store_user_set_password_hash(struct store *s, const char *id, const char *hash)
{
        return update_user(s, &sql_user_set_hash, id, hash);
}

int store_user_touch(struct store *s, const char *id)
{
        char now[21];

        store_now(now);
        return update_user(s, &sql_user_touch, id, now);
}

static int read_cost(struct db_stmt *st, void *ret)
{
        int64_t v = db_column_type(st, 0) == DB_NULL ? 0 : db_column_int64(st, 0);

        *(unsigned *)ret = v > 0 && v < 64 ? (unsigned)v : 0;
        return 0;
}

int store_user_bcrypt_cost(struct store *s, unsigned *ret)
{
        *ret = 0;
        return STORE_READ_ONE(s, &sql_user_bcrypt_cost, "bcrypt cost", read_cost, ret, "$2");
}
