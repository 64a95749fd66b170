/* SPDX-License-Identifier: MIT */
/*
 * What the administrator's console reads and changes: summary figures,
 * the paged lists (users, devices, vaults, audit entries, administrators,
 * invitations), and the actions on users, devices, administrators and
 * invitations.  Lists come back as row sets whose column names are the
 * names the admin API uses; the API turns them into JSON.  Every list is
 * paged (LIMIT/OFFSET) on indexed columns; sort columns come from a fixed
 * list, never from the request.
 *
 * Errors as in store/store.h; in addition -EPERM for an action the data
 * forbids (removing the last administrator, deleting an active device).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"

/* --- row sets -------------------------------------------------------------- */

enum store_cell_type {
        STORE_CELL_NULL,
        STORE_CELL_INT,
        STORE_CELL_TEXT,
};

struct store_cell {
        enum store_cell_type type;
        int64_t i;
        char *s;
};

struct store_rows {
        size_t n_cols, n_rows;
        char **names;             /* n_cols column names */
        struct store_cell *cells; /* n_rows * n_cols, row after row */
};

/* Free what a row set holds (the struct itself is the caller's). */
void store_rows_done(struct store_rows *r);

/* Totals of lists: exact from counters where the schema keeps one (no
 * filter, or a status only); otherwise the matches are counted up to this
 * cap, and a total of STORE_COUNT_CAP + 1 means "more than the cap". */
#define STORE_COUNT_CAP 10000

/* The total of a list: n, and whether n is that cap plus one ("more than
 * STORE_COUNT_CAP") rather than an exact count (a counter may exceed the
 * cap and still be exact). */
struct store_total {
        int64_t n;
        bool capped;
};

/* A list request: page >= 1, per_page >= 1 (the API caps it). */
struct store_page {
        int64_t page;
        int64_t per_page;
};

/* --- figures --------------------------------------------------------------- */

struct store_console_stats {
        int64_t users, active_users, blocked_users, unconfirmed_users;
        int64_t active_devices, revoked_devices, vaults;
        int64_t ops, ops_24h;
        int64_t blobs, blob_bytes, blob_refs, orphan_blobs;
        int64_t expired_sessions, expired_email_tokens, idempotency_records, audit_events;
        int64_t database_bytes;
        char last_sync[32]; /* newest device last_seen, "" when none */
};

/* The overview's figures as of now (one snapshot). */
int store_console_stats(struct store *s, time_t now, struct store_console_stats *ret);

/* --- users ------------------------------------------------------------------ */

enum store_user_status {
        STORE_USER_ANY,
        STORE_USER_ACTIVE, /* confirmed, not blocked */
        STORE_USER_BLOCKED,
        STORE_USER_UNCONFIRMED, /* not confirmed, not blocked */
};

enum store_user_sort {
        STORE_USER_SORT_CREATED,
        STORE_USER_SORT_USERNAME,
        STORE_USER_SORT_EMAIL,
        STORE_USER_SORT_LAST_SEEN,
        STORE_USER_SORT_CONFIRMED,
        STORE_USER_SORT_BLOCKED,
        STORE_USER_SORT_DEVICES, /* the number of devices (revoked ones too) */
};

struct store_user_query {
        const char *search; /* substring of username or e-mail, or NULL */
        enum store_user_status status;
        enum store_user_sort sort;
        bool ascending;
        struct store_page page;
};

/* Users: id, username, email, confirmed, blocked, last_seen, created_at,
 * devices; *ret_total counts every match. */
int store_console_users(struct store *s, const struct store_user_query *q, struct store_rows *ret,
                        struct store_total *ret_total);

/* Create a confirmed user.  -EEXIST with *ret_email_taken telling which
 * name was taken. */
int store_console_user_create(struct store *s, const char *id, const char *username,
                              const char *email, const char *password_hash, bool *ret_email_taken);

/* Change name and e-mail; -ENOENT, or -EEXIST as above. */
int store_console_user_edit(struct store *s, const char *id, const char *username,
                            const char *email, bool *ret_email_taken);

/* Mark confirmed (and drop pending confirmation links); -ENOENT. */
int store_console_user_confirm(struct store *s, const char *id);

/* Block or unblock; blocking also ends the user's web sessions.
 * -ENOENT. */
int store_console_user_block(struct store *s, const char *id, bool blocked);

/* Set a new password hash and end the user's sessions and reset links;
 * -ENOENT. */
int store_console_user_password(struct store *s, const char *id, const char *password_hash);

/* Delete the user and everything they own in one transaction: sessions,
 * e-mail tokens, blob references, idempotency records, tombstones,
 * revisions, operations, devices, audit entries.  *ret_shas (malloc'd,
 * *ret_n entries) lists the blobs they referenced, for the caller to
 * remove the files no one references any more.  -ENOENT. */
int store_console_user_delete(struct store *s, const char *id, char (**ret_shas)[65],
                              size_t *ret_n);

/* --- devices ---------------------------------------------------------------- */

enum store_device_status {
        STORE_DEVICE_ANY,
        STORE_DEVICE_ACTIVE,
        STORE_DEVICE_REVOKED,
};

struct store_device_query {
        const char *user; /* user id or exact username, or NULL */
        const char *vault_id;
        const char *client_version;
        enum store_device_status status;
        struct store_page page;
};

/* Devices, newest first: id, name, user_id, user, vault_id,
 * client_version, last_ip, last_seen, revoked_at, created_at,
 * token_hint ("prefix…suffix"). */
int store_console_devices(struct store *s, const struct store_device_query *q,
                          struct store_rows *ret, struct store_total *ret_total);

/* Delete a revoked device for good (its ops stay: they are the vault's
 * history).  -ENOENT, -EPERM when it is not revoked. */
int store_console_device_delete(struct store *s, const char *id);

/* --- vaults ------------------------------------------------------------------ */

/* One row per (user, vault) that has or had a device: user_id, username,
 * vault_id, devices, active_devices, ops, highest_sequence, blobs,
 * blob_bytes, last_activity.  user_id may be NULL (all users). */
int store_console_vaults(struct store *s, const char *user_id, const struct store_page *page,
                         struct store_rows *ret, struct store_total *ret_total);

/* The same row for one vault (-ENOENT), and its devices. */
int store_console_vault(struct store *s, const char *user_id, const char *vault_id,
                        struct store_rows *ret_vault, struct store_rows *ret_devices);

/* --- audit log ------------------------------------------------------------------ */

struct store_audit_query {
        const char *const *events; /* NULL-terminated event names, or NULL for all */
        const char *user_id;
        const char *device_id;
        const char *from, *to; /* RFC 3339 bounds (inclusive, exclusive), or NULL */
        struct store_page page;
};

/* Audit entries, newest first: id, event, user_id, username, device_id,
 * ip, message, created_at. */
int store_console_audit(struct store *s, const struct store_audit_query *q, struct store_rows *ret,
                        struct store_total *ret_total);

/* --- administrators ---------------------------------------------------------------- */

/* Administrators by name: id, username, created_at, last_login. */
int store_console_admins(struct store *s, struct store_rows *ret);

/* Add an administrator; -EEXIST when the name is taken. */
int store_console_admin_create(struct store *s, const char *id, const char *username,
                               const char *password_hash);

/* Remove the administrator id on behalf of the administrator self_id and
 * end its sessions; -ENOENT, -EPERM when it is the last one, -ECANCELED when
 * it is self_id (checked in that order). */
int store_console_admin_delete(struct store *s, const char *id, const char *self_id);

/* Record a successful login. */
int store_console_admin_login(struct store *s, const char *id);

/* --- invitations ------------------------------------------------------------------ */

/* Create an invitation (the SHA-256 of its token; email may be NULL). */
int store_invitation_create(struct store *s, const char *id, const char *token_hash,
                            const char *email, const char *created_by, const char *expires_at);

/* Invitations, newest first: id, email, created_by (administrator name),
 * created_at, expires_at, used_at, used_by (username). */
int store_invitations(struct store *s, const struct store_page *page, struct store_rows *ret,
                      struct store_total *ret_total);

/* Withdraw an unused invitation; -ENOENT. */
int store_invitation_delete(struct store *s, const char *id);

/* What an invitation token allows: 0 and the bound e-mail (malloc'd, NULL
 * when unbound) when it is unused and unexpired at now; -ENOENT unknown or
 * used, -ETIME expired. */
int store_invitation_check(struct store *s, const char *token_hash, time_t now, char **ret_email);
