/* SPDX-License-Identifier: MIT */
/*
 * Private to the files of src/store: the connections behind struct store
 * (one writer, a pool of readers), the back end that opened them, the
 * transaction helpers and the helpers every store area uses.  The areas
 * speak to the database only through db.h, never through a driver's own
 * API.  Nothing outside src/store/ includes this file.
 *
 * Invariants:
 *  - s->writer is used only while s->writer_lock is held; every write goes
 *    through store_write_begin()/store_write_end(), so within one daemon
 *    commits happen in the order sequences were assigned and a reader can
 *    never see sequence N+1 before N.
 *  - A reader connection belongs to one thread between store_read_begin()
 *    and store_read_end(); it holds a read transaction, so several queries
 *    see one snapshot.
 *  - Queries are static const struct db_sql objects (db.h): the statement
 *    cache of each connection is keyed by their address.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_maint.h"

struct store_push_job;
struct store;

/* What differs between back ends above the statement layer. */
struct store_backend {
        enum db_kind kind;
        /* Open one connection to s->target: the writer (which may create
         * the database) or a reader. */
        int (*connect)(struct store *s, bool writer, bool sync_full, struct db_conn **ret);
        /* On the writer, once, before any reader connects: prepare the
         * database and migrate it (or check its version for no_migrate). */
        int (*setup)(struct store *s, const struct store_options *opts, unsigned *ret_migrated);
        /* The schema version (on a connection inside a transaction). */
        int (*schema_version)(struct db_conn *c);
        /* Flush what the back end keeps beside the database (SQLite's WAL)
         * on the writer, which the caller holds. */
        int (*checkpoint)(struct db_conn *c);
        /* Leave no copy of deleted rows in the database's free space, on the
         * writer outside any transaction. */
        int (*scrub)(struct db_conn *c);
        /* Free what connection c caches (SQLite's page cache), on a
         * connection no one uses meanwhile; NULL when nothing is cached. */
        void (*release_memory)(struct db_conn *c);
        /* store_maint.h's operations that depend on the back end. */
        int (*backup)(struct store *s, const char *dest_path);
        int (*check)(struct db_conn *c, store_problem_fn problem, void *userdata, unsigned *n);
        /* A cheap query for store_probe(). */
        const struct db_sql *probe;
        /* Inside a push's transaction: announce, at commit, that the push
         * in (user_id, vault_id) reached seq to the other daemons sharing
         * the database (PostgreSQL: NOTIFY, store/pg/pg_changes.h).  NULL
         * when the database serves one daemon (SQLite). */
        int (*push_notify)(struct db_conn *c, const char *user_id, const char *vault_id,
                           int64_t seq);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_pg;

struct store {
        const struct store_backend *be;
        char *target; /* the SQLite path, or the PostgreSQL URL */
        struct db_conn *writer;
        pthread_mutex_t writer_lock;
        /* The last attempt to take the writer timed out (another process
         * holds the write lock): later writes wait only briefly. */
        atomic_bool write_stalled;

        /* Group commit of pushes (store_push_queue.c): pushes queue here
         * for the writer thread, which runs what is queued in one
         * transaction so that a single fsync covers it all. */
        pthread_mutex_t push_lock;
        /* The writer: a push came or the store closes (CLOCK_MONOTONIC). */
        pthread_cond_t push_arrived;
        struct store_push_job *push_queue, *push_queue_tail;
        unsigned push_queued;          /* in push_queue */
        unsigned push_last_batches[2]; /* pushes in the last batch, the one before */
        bool push_writing;             /* the writer is writing a batch */
        bool push_stopping;            /* store_close(): no more pushes */
        bool push_writer_started;
        pthread_t push_writer;

        /* The reader pool, opened as the load needs it: one connection at
         * store_open(), another only when every open one is taken, up to
         * n_readers (an idle daemon keeps one, not n_readers schemas and
         * caches).  Under readers_lock: readers[0..n_stored) are open;
         * n_open counts those and the ones being opened (outside the
         * lock, a connect may take seconds), so n_stored <= n_open <=
         * n_readers; free_readers lists the open ones not taken. */
        struct db_conn **readers;
        unsigned n_readers, n_open, n_stored;
        bool synchronous_full; /* for the readers opened later */
        struct db_conn *free_readers;
        pthread_mutex_t readers_lock;
        pthread_cond_t readers_cond;
};

/* Write batch (pushes linked by next) in one transaction and commit it,
 * setting each job's r and res (store_ops.c).  On the writer thread. */
void store_push_write_batch(struct store *s, struct store_push_job *batch);

/* Let the writer finish what is queued, then stop it (store_close()). */
void store_push_writer_stop(struct store *s);

/* Writer transaction: lock, begin a write transaction, giving up with
 * -EBUSY after a bounded wait (see store_write_stalled()).  end() commits
 * when commit is true and r >= 0, rolls back otherwise, unlocks, and
 * returns r (or the commit's error). */
int store_write_begin(struct store *s, struct db_conn **ret);
int store_write_end(struct store *s, struct db_conn *c, int r, bool commit);

/* Take the writer without a transaction (outside one: checkpoint, scrub);
 * release with store_writer_release(). */
void store_writer_take(struct store *s, struct db_conn **ret);
void store_writer_release(struct store *s);

/* Reader snapshot: take a pooled connection, BEGIN; end() returns it. */
int store_read_begin(struct store *s, struct db_conn **ret);
void store_read_end(struct store *s, struct db_conn *c);
/* A pooled reader without a transaction; give it back with
 * store_read_end().  Waits while all n_readers are taken; opens another
 * when fewer are open.  0, or the back end's error when that fails. */
int store_reader_take(struct store *s, struct db_conn **ret);

/* Current time as RFC 3339 (the format every *_at column uses). */
void store_now(char out[21]);

/*
 * The helpers every store area uses.  Statements whose parameters are all
 * text run through these; the few with integer parameters bind them with
 * db_bind_int64() and check every result the same way.
 */

/* A row reader: copy what the caller wants out of the current row of st
 * into ret.  0 or a negative errno (-ENOMEM). */
typedef int (*store_row_fn)(struct db_stmt *st, void *ret);

/* Row readers for the common cases: column 0 as a new string (char **ret)
 * or as an integer (int64_t *ret). */
int store_row_string(struct db_stmt *st, void *ret);
int store_row_int64(struct db_stmt *st, void *ret);

/* Run a statement that returns no rows on c, binding args[i] (text, NULL
 * for NULL) to parameter i+1.  Returns the number of rows changed, or a
 * negative errno (what names the statement in the log). */
int store_run(struct db_conn *c, const struct db_sql *q, const char *what, const char *const *args,
              size_t n);

/* The same, alone in its own writer transaction. */
int store_write_one(struct store *s, const struct db_sql *q, const char *what,
                    const char *const *args, size_t n);

/* On c (inside a transaction), run q with args bound as store_run()
 * does and hand the first row to read(st, ret).  Returns read's result,
 * -ENOENT when there is no row, or another negative errno. */
int store_query_one(struct db_conn *c, const struct db_sql *q, const char *what, store_row_fn read,
                    void *ret, const char *const *args, size_t n);

/* The same on a reader snapshot of its own. */
int store_read_one(struct store *s, const struct db_sql *q, const char *what, store_row_fn read,
                   void *ret, const char *const *args, size_t n);

/* Count one problem of store_check() and hand its line to problem(). */
int store_report(store_problem_fn problem, void *userdata, unsigned *n, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Rewrite the database so that rows just deleted leave no copy behind
 * (see struct store_backend.scrub); takes the writer. */
int store_scrub(struct store *s);

#define STORE_ARGS(...)                                                                            \
        (const char *const[]){__VA_ARGS__},                                                        \
                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

#define STORE_QUERY_ONE(c, q, what, read, ret, ...)                                                \
        store_query_one(c, q, what, read, ret, STORE_ARGS(__VA_ARGS__))

#define STORE_READ_ONE(s, q, what, read, ret, ...)                                                 \
        store_read_one(s, q, what, read, ret, STORE_ARGS(__VA_ARGS__))

#define STORE_RUN(c, q, what, ...)                                                                 \
        store_run(c, q, what, (const char *const[]){__VA_ARGS__},                                  \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

#define STORE_WRITE_ONE(s, q, what, ...)                                                           \
        store_write_one(s, q, what, (const char *const[]){__VA_ARGS__},                            \
                        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
