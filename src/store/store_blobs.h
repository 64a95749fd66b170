/* SPDX-License-Identifier: MIT */
/*
 * Blob metadata: server_blobs (one row per physical, content-addressed
 * file) and server_blob_refs (one row per scope that uploaded it).  The
 * files themselves are in blob/; nothing here touches them.
 *
 * A reference is what makes a blob visible to a scope and what counts
 * against quotas: the same content referenced by two vaults counts in
 * both (and twice for their user), though the disk holds it once.
 *
 * Costs: usage is summed over the references of the scope (or user) on
 * demand, O(number of references), through the (user_id, vault_id, sha256)
 * and (user_id, sha256) indexes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"
#include "store/store_ops.h"

/* The recorded size of a blob referenced in scope; -ENOENT when the scope
 * holds no reference to sha256. */
int store_blob_ref_size(struct store *s, const struct store_scope *scope, const char *sha256,
                        int64_t *ret_size);

/* The recorded size and last access time (0 when unreadable) of the
 * scope's reference to sha256; -ENOENT when there is none. */
int store_blob_ref_get(struct store *s, const struct store_scope *scope, const char *sha256,
                       int64_t *ret_size, time_t *ret_last_accessed);

/* Set the reference's last_accessed to now; -ENOENT when there is none. */
int store_blob_ref_touch(struct store *s, const struct store_scope *scope, const char *sha256);

struct store_blob_quota {
        uint64_t max_vault_bytes; /* sum of the scope's references */
        uint64_t max_user_bytes;  /* sum of all the user's references */
};

/*
 * Record that scope uploaded sha256 of size bytes, in one transaction.
 * When device_id (the uploader; may be NULL) was revoked meanwhile, or its
 * owner blocked, nothing changes and -EKEYREVOKED or -EPERM is returned:
 * a revocation stops an upload in flight.  Otherwise, when the scope already references it, nothing
 * changes and 0 is returned (quotas are not checked: nothing is added).  Otherwise the new
 * reference must fit both quotas (usage + size <= max), else -EDQUOT and nothing changes; then the
 * server_blobs row is created (or its size refreshed) and the reference added, and 1 is returned.
 */
int store_blob_ref_add(struct store *s, const struct store_scope *scope, const char *device_id,
                       const char *sha256, int64_t size, const struct store_blob_quota *quota);

struct store_blob_usage {
        int64_t bytes; /* sum of the references' sizes */
        int64_t blobs; /* number of references */
};

/* Blob usage of one scope (user, vault). */
int store_blob_usage_scope(struct store *s, const struct store_scope *scope,
                           struct store_blob_usage *ret);

/* Blob usage of a user over all their vaults. */
int store_blob_usage_user(struct store *s, const char *user_id, struct store_blob_usage *ret);

/* Whether any scope references sha256: 1, 0, or a negative errno. */
int store_blob_is_referenced(struct store *s, const char *sha256);

/*
 * In one transaction: when no scope references sha256, delete its
 * server_blobs row (if any) and return 1, setting *ret_row_deleted (may be
 * NULL) when there was a row; when a reference exists, change nothing and
 * return 0.  Used before a blob file is removed.
 */
int store_blob_forget_unreferenced(struct store *s, const char *sha256, bool *ret_row_deleted);

/* The hashes of server_blobs rows that no reference points to, as a
 * malloc'd array of *ret_n strings of 64 hex digits + NUL. */
int store_blob_list_unreferenced(struct store *s, char (**ret)[65], size_t *ret_n);
