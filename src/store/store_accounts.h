/* SPDX-License-Identifier: MIT */
/*
 * Account life cycle in the store: creating users, single-use e-mail
 * tokens (server_email_tokens: confirmation and password reset) and web
 * sessions (server_sessions, user and admin scope).  Tokens and sessions
 * are kept only as SHA-256 hex of their secrets: the callers hash, the
 * store never sees or generates a secret.  No HTTP and no policy here
 * beyond what must happen atomically (a token is consumed in the same
 * transaction that acts on it).
 */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "store/store.h"

/* server_email_tokens.purpose values. */
#define STORE_TOKEN_CONFIRM "confirm"
#define STORE_TOKEN_RESET   "reset"

/* server_sessions.scope values. */
#define STORE_SESSION_USER  "user"
#define STORE_SESSION_ADMIN "admin"

/* Which uniqueness rule a new account broke. */
enum store_account_taken {
        STORE_TAKEN_NONE,
        STORE_TAKEN_USERNAME,
        STORE_TAKEN_EMAIL,
};

struct store_account_new {
        const char *id;
        const char *username;
        const char *email; /* already normalised (trimmed, lower-case) */
        const char *password_hash;
        const char *locale;
        const char *confirm_token_hash; /* SHA-256 hex of the confirmation token */
        const char *confirm_expires_at; /* RFC 3339 */
        /* SHA-256 hex of an invitation to use up, or NULL.  When it is not
         * (any more) unused and unexpired, nothing is created: -ESTALE. */
        const char *invitation_hash;
};

/*
 * Create an unconfirmed user and its confirmation token in one
 * transaction.  -EEXIST when the username (exactly) or the e-mail (case
 * insensitively) is taken; *ret_taken then says which (may be NULL).
 */
int store_account_create(struct store *s, const struct store_account_new *a,
                         enum store_account_taken *ret_taken);

/*
 * Add an e-mail token of purpose for user_id, valid until expires_at
 * (RFC 3339).
 */
int store_email_token_add(struct store *s, const char *user_id, const char *purpose,
                          const char *token_hash, const char *expires_at);

/*
 * Consume a confirmation token: when it exists and has not expired at now,
 * mark its user confirmed and delete every confirmation token of that user,
 * all in one transaction.  An expired token is deleted and -ETIME returned;
 * an unknown one (or one of another purpose) gives -ENOENT.  On 0,
 * *ret_user_id (may be NULL) receives the user id (caller frees).
 */
int store_account_confirm(struct store *s, const char *token_hash, time_t now, char **ret_user_id);

/*
 * Consume a reset token and set the new password hash: in one transaction
 * the password is replaced, every reset token of the user is deleted and
 * every user session of the user ends.  -ETIME (token deleted) and -ENOENT
 * as for store_account_confirm().
 */
int store_account_reset_password(struct store *s, const char *token_hash, time_t now,
                                 const char *password_hash, char **ret_user_id);

/* Delete e-mail tokens that expired before now (RFC 3339); returns how many. */
int store_email_tokens_expire(struct store *s, const char *now);

/* --- sessions ------------------------------------------------------------ */

struct store_session {
        char *token_hash;
        char *csrf_hash;
        char *scope;
        char *subject_id;
        char *expires_at;
        char *created_at;
        char *last_seen;
};

void store_session_done(struct store_session *ss);

/* Store a new session valid until expires_at (RFC 3339). */
int store_session_create(struct store *s, const char *token_hash, const char *csrf_hash,
                         const char *scope, const char *subject_id, const char *expires_at);

/* The session whose token hashes to token_hash, whatever its scope or
 * expiry (the caller judges both); -ENOENT when none. */
int store_session_get(struct store *s, const char *token_hash, struct store_session *ret);

/* Set last_seen = now. */
int store_session_touch(struct store *s, const char *token_hash);

/* End one session.  Returns 1 when it existed, 0 when not. */
int store_session_delete(struct store *s, const char *token_hash);

/* End every session of a subject in a scope (a user blocked, a password
 * reset).  Returns how many ended. */
int store_sessions_delete_subject(struct store *s, const char *scope, const char *subject_id);

/* Delete sessions that expired before now (RFC 3339); returns how many. */
int store_sessions_expire(struct store *s, const char *now);
