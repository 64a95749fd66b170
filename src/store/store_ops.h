/* SPDX-License-Identifier: MIT */
/*
 * The operation log (server_ops, server_tombstones, server_idempotency_keys,
 * server_meta.last_sequence).
 *
 * Invariants the rest of the daemon relies on:
 *  - server_sequence values are assigned from server_meta.last_sequence in
 *    the writer transaction, so they strictly increase, are never reused
 *    (even after deletions) and commit in order: a reader that has seen
 *    sequence N can never later see a new op with a sequence <= N.
 *    This holds across daemons sharing one PostgreSQL database too: a push
 *    begins by locking the last_sequence row (SELECT ... FOR UPDATE) and
 *    holds it until it commits, so pushes through any daemon take their
 *    sequences one transaction after the other and a push's ops become
 *    visible only after every op with a smaller sequence.  A push waiting
 *    for that lock longer than the store's bounded write wait fails with
 *    -EBUSY and stores nothing.
 *  - a push is all or nothing: ops, tombstones, the device's last_seen and
 *    the idempotency record commit together.
 *  - op_id is unique per scope (user, vault); a repeated op_id is skipped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_scope {
        const char *user_id;
        const char *vault_id;
};

struct store_op_in {
        const char *op_id;
        const char *entity_type;
        const char *entity_id;
        const char *op_type;
        const char *payload_json; /* "" when none */
        const char *created_at;   /* as the client sent it, "" when none */
        int64_t client_sequence;
        int64_t last_seen_server_seq;
};

struct store_conflict {
        char *op_id;
        char *device_id;
        char *op_type;
        char *entity_type;
        char *entity_id;
        int64_t server_sequence;
};

/* Conflict hints reported per pushed op: the newest ones (api.md §4). */
#define STORE_CONFLICTS_PER_OP 10

/* The longest idempotency record kept; a longer answer is recorded
 * without its conflict hints (with "conflicts_truncated": true). */
#define STORE_IDEMPOTENCY_MAX_BYTES (256u * 1024)

struct store_push_result {
        /* The push's answer (api.md §4): the idempotency record that
         * answered a repeated key, or the record of this push.  Always set
         * on success. */
        char *json;
        /* The record answered: nothing else is filled, nothing was stored. */
        bool replayed;
        /* Indexes (into the request's ops) of the ops stored, in order. */
        size_t *accepted;
        size_t n_accepted;
        struct store_conflict *conflicts;
        size_t n_conflicts;
        /* Some op had more than STORE_CONFLICTS_PER_OP conflicts: only
         * the newest were kept. */
        bool conflicts_truncated;
        int64_t last_sequence; /* highest sequence assigned, 0 when none */
};

void store_push_result_done(struct store_push_result *r);

struct store_push {
        struct store_scope scope;
        const char *device_id;
        const char *device_ip;
        const char *idempotency_key; /* NULL or "" for none */
        const struct store_op_in *ops;
        size_t n_ops;
        bool touch_device; /* also set the device's last_seen/last_ip */
        bool announced;    /* store_push_announce() was called for it */
};

/*
 * Announce a push on its way to store_push_ops() (its body is still being
 * read and checked): a batch about to be written waits a little (at most
 * STORE_PUSH_GATHER_USEC) for announced pushes, so that more of them
 * share one commit and its fsync.  Every announcement is followed by
 * store_push_ops() with .announced set, or by store_push_withdraw().
 */
#define STORE_PUSH_GATHER_USEC 2000
void store_push_announce(struct store *s);
void store_push_withdraw(struct store *s);

/*
 * Push ops in one transaction (see the invariants above) and fill *ret.
 * The store runs no caller code: what it records for an idempotency key
 * is its own result in the form api.md §4 answers with,
 * {"accepted":[op ids],"conflicts":[…],"count":N} (plus
 * "conflicts_truncated":true when hints were left out), written by
 * store_push_result_json() in the transaction that stores the ops, so a
 * repeated key replays the first answer byte for byte (one longer than
 * STORE_IDEMPOTENCY_MAX_BYTES is recorded without its conflict hints) (records written by
 * earlier servers, e.g. with "conflicts":null, replay as they are).
 * Without a key the text is built after the commit, outside the writer
 * lock.
 */
int store_push_ops(struct store *s, const struct store_push *p, struct store_push_result *ret);

/* The answer form of a result whose accepted indexes refer to ops
 * (compact JSON, keys in the order of the existing server).  0 and a
 * malloc'd text in *ret_json, or -ENOMEM. */
int store_push_result_json(const struct store_op_in *ops, const struct store_push_result *res,
                           char **ret_json);

/* One stored op as the store hands it out: the strings are borrowed and
 * valid only during the callback. */
struct store_op_view {
        const char *op_id;
        const char *device_id;
        const char *entity_type;
        const char *entity_id;
        const char *op_type;
        const char *payload_json;
        const char *created_at;
        int64_t server_sequence;
};

typedef int (*store_pull_row_fn)(const struct store_op_view *op, void *userdata);

struct store_pull_info {
        size_t n_ops;
        bool has_more;
        int64_t last_sequence;   /* of the last op handed out, 0 when none */
        int64_t scope_sequence;  /* highest sequence in the scope, 0 when empty */
        int64_t global_sequence; /* server-wide high-water mark of the snapshot */
};

/* Hand the scope's ops with server_sequence > since to row, ascending, at
 * most limit, all from one snapshot (a negative return from row stops and
 * is returned; a positive one ends the page before that op, which is not
 * counted, with has_more set). */
int store_pull_page(struct store *s, const struct store_scope *scope, int64_t since, size_t limit,
                    store_pull_row_fn row, void *userdata, struct store_pull_info *ret);

/* Hand the scope's ops with after < server_sequence <= upto to row,
 * ascending, from one snapshot, until row returns non-zero (negative: the
 * error returned; positive: stop, 0 returned).  For streaming a page that
 * store_pull_page() measured, a piece at a time: committed ops never
 * change, so every call sees the same ops. */
int store_pull_range(struct store *s, const struct store_scope *scope, int64_t after, int64_t upto,
                     store_pull_row_fn row, void *userdata);

/* The server-wide high-water mark: the highest sequence committed by any
 * daemon (0 before the first push), read on a snapshot of its own.  For
 * the long-poll wake-up's fallback check (store/pg/pg_changes.h). */
int store_last_sequence(struct store *s, int64_t *ret);

/* Delete idempotency records created before cutoff (RFC 3339).  Returns the
 * number removed. */
int store_idempotency_expire(struct store *s, const char *cutoff);
