/* SPDX-License-Identifier: MIT */
/*
 * Paired devices (server_devices, server_user_devices) and the audit log
 * (server_audit_log).  Device tokens are never stored: only their SHA-256
 * (token_hash) and an 8+4 character hint for display.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_device {
        char *id;
        char *user_id;
        char *vault_id;
        char *name;
        char *client_version;
        char *token_hash;
        char *token_prefix;
        char *token_suffix;
        char *last_ip;
        char *last_seen;  /* "" when never */
        char *revoked_at; /* "" when active */
        char *created_at;
        /* Owner, joined in by the token lookup. */
        char *owner_username;
        bool owner_blocked;
};

void store_device_done(struct store_device *d);

struct store_device_new {
        const char *id;
        const char *user_id;
        const char *vault_id;
        const char *name;
        const char *client_version;
        const char *token_hash;
        const char *token_prefix;
        const char *token_suffix;
        const char *ip;
};

/* Create a device (and its server_user_devices row) and record the audit
 * event device_paired, in one transaction. */
int store_device_create(struct store *s, const struct store_device_new *d);

/* The device whose token hashes to token_hash, with its owner; -ENOENT. */
int store_device_by_token_hash(struct store *s, const char *token_hash, struct store_device *ret);

/* A device by id (with owner); -ENOENT. */
int store_device_get(struct store *s, const char *id, struct store_device *ret);

/* Set last_seen = now and last_ip. */
int store_device_touch(struct store *s, const char *id, const char *ip);

/* Mark revoked now (keeps an earlier revocation time) and record audit
 * event device_revoked with message.  -ENOENT when unknown. */
int store_device_revoke(struct store *s, const char *id, const char *ip, const char *message);

/* List a user's devices (revoked included), newest first.  *ret is an array
 * of *ret_n devices; free with store_device_list_free(). */
int store_device_list_for_user(struct store *s, const char *user_id, struct store_device **ret,
                               size_t *ret_n);
void store_device_list_free(struct store_device *list, size_t n);

/* Append an audit entry (never with secrets).  Any field may be NULL. */
int store_audit_add(struct store *s, const char *event, const char *user_id, const char *device_id,
                    const char *ip, const char *message);

/* Delete audit entries created before cutoff (RFC 3339); returns how many. */
int store_audit_expire(struct store *s, const char *cutoff);
