/* SPDX-License-Identifier: MIT */
/*
 * Implementation of store/store_accounts.h.  Every statement is a static
 * array (the statement cache is keyed by its address) commented with its
 * callers; every multi-step change runs in one writer transaction.
 */
#include "store/store_accounts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/text.h"

/* store_account_create */
static const struct db_sql sql_taken = {
        "SELECT EXISTS (SELECT 1 FROM server_users WHERE username = ?1),"
        " EXISTS (SELECT 1 FROM server_users WHERE email = ?2)"};
static const struct db_sql sql_user_insert = {
        "INSERT INTO server_users (id, username, email, password_hash, confirmed, blocked,"
        " created_at, locale) VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6)"};
/* store_account_create, store_email_token_add */
static const struct db_sql sql_token_insert = {
        "INSERT INTO server_email_tokens (token_hash, user_id, purpose, expires_at, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)"};
/* consume_token */
static const struct db_sql sql_token_get = {
        "SELECT user_id, expires_at FROM server_email_tokens WHERE "
        "token_hash = ?1 AND purpose = ?2"};
static const struct db_sql sql_token_delete = {
        "DELETE FROM server_email_tokens WHERE token_hash = ?1"};
/* store_account_confirm, store_account_reset_password */
static const struct db_sql sql_tokens_delete_user = {
        "DELETE FROM server_email_tokens WHERE user_id = ?1 AND purpose = ?2"};
/* store_account_confirm */
static const struct db_sql sql_user_confirm = {
        "UPDATE server_users SET confirmed = 1 WHERE id = ?1"};
/* store_account_reset_password */
static const struct db_sql sql_user_password = {
        "UPDATE server_users SET password_hash = ?2 WHERE id = ?1"};
/* store_account_create */
static const struct db_sql sql_invitation_use = {
        "UPDATE server_invitations SET used_at = ?2, used_by = ?3 WHERE token_hash = ?1"
        " AND used_at IS NULL AND expires_at > ?2"};
/* store_email_tokens_expire */
static const struct db_sql sql_tokens_expire = {
        "DELETE FROM server_email_tokens WHERE expires_at < ?1"};

/* store_session_create */
static const struct db_sql sql_session_insert = {
        "INSERT INTO server_sessions (token_hash, csrf_hash, scope, subject_id, expires_at,"
        " created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"};
/* store_session_get */
static const struct db_sql sql_session_get = {
        "SELECT token_hash, csrf_hash, scope, subject_id, expires_at, created_at, last_seen"
        " FROM server_sessions WHERE token_hash = ?1"};
/* store_session_touch */
static const struct db_sql sql_session_touch = {
        "UPDATE server_sessions SET last_seen = ?2 WHERE token_hash = ?1"};
/* store_session_delete */
static const struct db_sql sql_session_delete = {
        "DELETE FROM server_sessions WHERE token_hash = ?1"};
/* store_sessions_delete_subject, store_account_reset_password */
static const struct db_sql sql_sessions_delete_subject = {
        "DELETE FROM server_sessions WHERE scope = ?1 AND subject_id = ?2"};
/* store_sessions_expire */
static const struct db_sql sql_sessions_expire = {
        "DELETE FROM server_sessions WHERE expires_at < ?1"};

static int read_taken(struct db_stmt *st, void *ret)
{
        *(enum store_account_taken *)ret = (int)db_column_int64(st, 0)   ? STORE_TAKEN_USERNAME
                                           : (int)db_column_int64(st, 1) ? STORE_TAKEN_EMAIL
                                                                         : STORE_TAKEN_NONE;
        return 0;
}

static int check_taken(struct db_conn *c, const char *username, const char *email,
                       enum store_account_taken *ret)
{
        return STORE_QUERY_ONE(c, &sql_taken, "check account names", read_taken, ret, username,
                               email);
}

int store_account_create(struct store *s, const struct store_account_new *a,
                         enum store_account_taken *ret_taken)
{
        enum store_account_taken taken = STORE_TAKEN_NONE;
        struct db_conn *c;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        store_now(now);
        r = check_taken(c, a->username, a->email, &taken);
        if (r >= 0 && taken != STORE_TAKEN_NONE)
                r = -EEXIST;
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_insert, "insert user", a->id, a->username, a->email,
                              a->password_hash, now, a->locale);
        if (r >= 0)
                r = STORE_RUN(c, &sql_token_insert, "insert e-mail token", a->confirm_token_hash,
                              a->id, STORE_TOKEN_CONFIRM, a->confirm_expires_at, now);
        if (r >= 0 && a->invitation_hash) {
                r = STORE_RUN(c, &sql_invitation_use, "use invitation", a->invitation_hash, now,
                              a->id);
                if (r == 0)
                        r = -ESTALE; /* used or expired meanwhile: roll back */
        }
        if (ret_taken)
                *ret_taken = taken;
        r = store_write_end(s, c, r, true);
        return r < 0 ? r : 0;
}

int store_email_token_add(struct store *s, const char *user_id, const char *purpose,
                          const char *token_hash, const char *expires_at)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_token_insert, "insert e-mail token", token_hash, user_id,
                            purpose, expires_at, now);
        return r < 0 ? r : 0;
}

/* A row of &sql_token_get. */
struct token_row {
        char *user_id;
        time_t expires;
        bool dated; /* expires_at could be read */
};

static void token_row_done(struct token_row *t)
{
        free(t->user_id);
}

static int read_token(struct db_stmt *st, void *ret)
{
        struct token_row *t = ret;

        t->user_id = db_column_strdup(st, 0);
        if (!t->user_id)
                return -ENOMEM;
        t->dated = time_parse_rfc3339(db_column_text(st, 1), &t->expires) == 0;
        return 0;
}

/*
 * Inside a writer transaction: find the token of purpose.  0 with
 * *ret_user_id when valid at now; -ETIME after deleting an expired (or
 * unreadable) one; -ENOENT when there is none.
 */
static int consume_token(struct db_conn *c, const char *token_hash, const char *purpose, time_t now,
                         char **ret_user_id)
{
        _cleanup_(token_row_done) struct token_row t = {0};
        int r;

        r = STORE_QUERY_ONE(c, &sql_token_get, "get e-mail token", read_token, &t, token_hash,
                            purpose);
        if (r < 0)
                return r;
        r = STORE_RUN(c, &sql_token_delete, "delete e-mail token", token_hash);
        if (r < 0)
                return r;
        if (!t.dated || t.expires <= now)
                return -ETIME;
        *ret_user_id = TAKE_PTR(t.user_id);
        return 0;
}

/*
 * Consume a token of purpose and act on its user in one transaction: run
 * sql_user (?1 the user id, ?2 value unless NULL), delete the user's other
 * tokens of that purpose and, when end_sessions, the user's sessions.  An
 * expired token's deletion is committed too and reported as -ETIME.
 */
static int consume_and_update(struct store *s, const char *token_hash, const char *purpose,
                              time_t now, const struct db_sql *sql_user, const char *value,
                              bool end_sessions, char **ret_user_id)
{
        struct db_conn *c;
        _cleanup_free_ char *user_id = NULL;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = consume_token(c, token_hash, purpose, now, &user_id);
        if (r == -ETIME) {
                r = store_write_end(s, c, 0, true);
                return r < 0 ? r : -ETIME;
        }
        if (r >= 0)
                r = store_run(c, sql_user, "update user", (const char *const[]){user_id, value},
                              value ? 2 : 1);
        if (r == 0)
                r = -ENOENT; /* the user was deleted meanwhile */
        if (r > 0)
                r = STORE_RUN(c, &sql_tokens_delete_user, "delete e-mail tokens", user_id, purpose);
        if (r >= 0 && end_sessions)
                r = STORE_RUN(c, &sql_sessions_delete_subject, "end sessions", STORE_SESSION_USER,
                              user_id);
        r = store_write_end(s, c, r, true);
        if (r < 0)
                return r;
        if (ret_user_id)
                *ret_user_id = TAKE_PTR(user_id);
        return 0;
}

int store_account_confirm(struct store *s, const char *token_hash, time_t now, char **ret_user_id)
{
        return consume_and_update(s, token_hash, STORE_TOKEN_CONFIRM, now, &sql_user_confirm, NULL,
                                  false, ret_user_id);
}

int store_account_reset_password(struct store *s, const char *token_hash, time_t now,
                                 const char *password_hash, char **ret_user_id)
{
        return consume_and_update(s, token_hash, STORE_TOKEN_RESET, now, &sql_user_password,
                                  password_hash, true, ret_user_id);
}

int store_email_tokens_expire(struct store *s, const char *now)
{
        return STORE_WRITE_ONE(s, &sql_tokens_expire, "expire e-mail tokens", now);
}

/* --- sessions ------------------------------------------------------------ */

void store_session_done(struct store_session *ss)
{
        if (!ss)
                return;
        free(ss->token_hash);
        free(ss->csrf_hash);
        free(ss->scope);
        free(ss->subject_id);
        free(ss->expires_at);
        free(ss->created_at);
        free(ss->last_seen);
        memset(ss, 0, sizeof(*ss));
}

int store_session_create(struct store *s, const char *token_hash, const char *csrf_hash,
                         const char *scope, const char *subject_id, const char *expires_at)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_session_insert, "insert session", token_hash, csrf_hash, scope,
                            subject_id, expires_at, now);
        return r < 0 ? r : 0;
}

static int read_session(struct db_stmt *st, void *ret)
{
        struct store_session ss = {
                .token_hash = db_column_strdup(st, 0),
                .csrf_hash = db_column_strdup(st, 1),
                .scope = db_column_strdup(st, 2),
                .subject_id = db_column_strdup(st, 3),
                .expires_at = db_column_strdup(st, 4),
                .created_at = db_column_strdup(st, 5),
                .last_seen = db_column_strdup(st, 6),
        };
        if (!ss.token_hash || !ss.csrf_hash || !ss.scope || !ss.subject_id || !ss.expires_at ||
            !ss.created_at || !ss.last_seen) {
                store_session_done(&ss);
                return -ENOMEM;
        }
        *(struct store_session *)ret = ss;
        return 0;
}

int store_session_get(struct store *s, const char *token_hash, struct store_session *ret)
{
        return STORE_READ_ONE(s, &sql_session_get, "get session", read_session, ret, token_hash);
}

int store_session_touch(struct store *s, const char *token_hash)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_session_touch, "touch session", token_hash, now);
        return r < 0 ? r : 0;
}

int store_session_delete(struct store *s, const char *token_hash)
{
        int r = STORE_WRITE_ONE(s, &sql_session_delete, "delete session", token_hash);
        return r < 0 ? r : r > 0;
}

int store_sessions_delete_subject(struct store *s, const char *scope, const char *subject_id)
{
        return STORE_WRITE_ONE(s, &sql_sessions_delete_subject, "end sessions", scope, subject_id);
}

int store_sessions_expire(struct store *s, const char *now)
{
        return STORE_WRITE_ONE(s, &sql_sessions_expire, "expire sessions", now);
}
