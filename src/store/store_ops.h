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
};

/*
 * Group commit.  Pushes are written by one writer thread of the store, in
 * the order they were submitted: it takes every push queued while the
 * previous commit was being written (at most STORE_PUSH_BATCH_MAX) into
 * one transaction, so that one commit, and with SQLite's
 * synchronous=FULL one fsync, makes all of them durable.  Submitting does
 * not block: the caller (an HTTP worker) goes on reading other requests
 * while its push waits, which is what lets a batch grow beyond the number
 * of worker threads.
 *
 * Each push still sees the effect of those before it (duplicates,
 * conflicts, sequences), is still all or nothing, and is reported done
 * only after the commit that contains it.  If that commit fails, every
 * push in the batch fails and none is stored.
 */
#define STORE_PUSH_BATCH_MAX 64
/* Under concurrent load the writer waits up to this long for the next
 * batch to fill (store_push_queue.c); a lone client never waits. */
#define STORE_PUSH_GATHER_USEC 1000
/* Pushes waiting for the writer beyond which store_push_submit() refuses
 * more (-EAGAIN): the bound on memory and on how long a queued push
 * waits; the caller answers 503 with Retry-After. */
#define STORE_PUSH_QUEUE_MAX 256

struct store_push_job;
/* Called on the writer thread once job is written (or failed): it must be
 * quick and must not call into the store; job may be freed from then on. */
typedef void (*store_push_done_fn)(struct store_push_job *job, void *userdata);

/* A push handed to the writer.  The caller fills push, done and userdata
 * and keeps the job and everything push points to alive until done runs;
 * then store_push_finish() hands out the outcome. */
struct store_push_job {
        const struct store_push *push;
        store_push_done_fn done;
        void *userdata;
        /* The writer's: */
        int r;
        struct store_push_result res;
        struct store_push_job *next;
};

/*
 * Queue job for the writer (started at the first call).  Returns 0, after
 * which job->done is called exactly once; -EAGAIN when
 * STORE_PUSH_QUEUE_MAX pushes are queued already, -ESHUTDOWN while the
 * store closes, or the error of starting the writer (done is never called
 * then).
 */
int store_push_submit(struct store *s, struct store_push_job *job);

/*
 * The outcome of a job whose done has run: 0 and *ret (release with
 * store_push_result_done()), or the push's error.  The store runs no
 * caller code in the transaction: what it records for an idempotency key
 * is its own result in the form api.md §4 answers with,
 * {"accepted":[op ids],"conflicts":[…],"count":N} (plus
 * "conflicts_truncated":true when hints were left out), written by
 * store_push_result_json() in the transaction that stores the ops, so a
 * repeated key replays the first answer byte for byte (one longer than
 * STORE_IDEMPOTENCY_MAX_BYTES is recorded without its conflict hints;
 * records written by earlier servers, e.g. with "conflicts":null, replay
 * as they are).  Without a key the text is built here, on the caller's
 * thread, outside the writer.
 */
int store_push_finish(struct store_push_job *job, struct store_push_result *ret);

/* store_push_submit() and wait for the outcome (store_push_finish()), for
 * callers that may block: tests and host commands. */
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
        /* The payload's bytes from payload_at on: the whole payload (at 0),
         * or for the op store_pull_range() resumes, a piece of it, which
         * may end inside a UTF-8 sequence; payload_cut: more of the
         * payload follows the piece. */
        const char *payload_json;
        uint64_t payload_at;
        bool payload_cut;
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

/* An op of store_pull_range() to resume part way through its payload:
 * only max bytes of it from byte at on are read (into buf, which has room
 * for max + 1), not the whole payload. */
struct store_pull_resume {
        int64_t seq; /* 0: none */
        uint64_t at;
        char *buf;
        size_t max;
};

/* Hand the scope's ops with after < server_sequence <= upto to row,
 * ascending, from one snapshot, until row returns non-zero (negative: the
 * error returned; positive: stop, 0 returned); the op resume names (NULL:
 * none) comes as a piece of its payload.  For streaming a page that
 * store_pull_page() measured, a piece at a time: committed ops never
 * change, so every call sees the same ops, and a payload larger than a
 * piece is read once, not once per piece.  -ENOENT when the resumed op is
 * gone (its user deleted meanwhile). */
int store_pull_range(struct store *s, const struct store_scope *scope, int64_t after, int64_t upto,
                     const struct store_pull_resume *resume, store_pull_row_fn row, void *userdata);

/* The server-wide high-water mark: the highest sequence committed by any
 * daemon (0 before the first push), read on a snapshot of its own.  For
 * the long-poll wake-up's fallback check (store/pg/pg_changes.h). */
int store_last_sequence(struct store *s, int64_t *ret);

/* Delete idempotency records created before cutoff (RFC 3339).  Returns the
 * number removed. */
int store_idempotency_expire(struct store *s, const char *cutoff);
