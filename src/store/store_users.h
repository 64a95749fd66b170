/* SPDX-License-Identifier: MIT */
/*
 * Sync users (server_users): lookup for authentication and the few updates
 * authentication needs.  Account life cycle (registration, confirmation,
 * reset, sessions) is in store_accounts.h.
 */
#pragma once

#include <stdbool.h>

#include "store/store.h"

struct store_user {
        char *id;
        char *username;
        char *email;
        char *password_hash;
        char *locale; /* may be "" */
        char *last_seen;
        char *created_at;
        bool confirmed;
        bool blocked;
};

/* Release the strings of u (u itself is caller storage). */
void store_user_done(struct store_user *u);

/* Find a user whose username equals login exactly, or whose e-mail equals
 * it case-insensitively.  -ENOENT when none. */
int store_user_find_by_login(struct store *s, const char *login, struct store_user *ret);

/* Find the user with this e-mail address (already lower-case); -ENOENT
 * when none.  Unlike store_user_find_by_login(), usernames never match. */
int store_user_find_by_email(struct store *s, const char *email, struct store_user *ret);

/* Fetch a user by id; -ENOENT when unknown. */
int store_user_get(struct store *s, const char *id, struct store_user *ret);

/* Replace the password hash (e.g. a bcrypt hash rehashed to Argon2id). */
int store_user_set_password_hash(struct store *s, const char *id, const char *hash);

/* The highest cost among the bcrypt hashes still waiting for a rehash
 * (users and administrators of the earlier server), 0 when none is left. */
int store_user_bcrypt_cost(struct store *s, unsigned *ret);

/* Record a successful authentication time. */
int store_user_touch(struct store *s, const char *id);
