/* SPDX-License-Identifier: MIT */
/*
 * Private to the files of src/store: the SQLite connections behind struct store, the
 * per-connection statement cache and the transaction helpers.  Nothing
 * outside src/store/ includes this file.
 *
 * Invariants:
 *  - s->writer is used only while s->writer_lock is held; every write goes
 *    through store_write_begin()/store_write_end(), so commits happen in
 *    the order sequences were assigned and a reader can never see sequence
 *    N+1 before N.
 *  - A reader connection belongs to one thread between store_read_begin()
 *    and store_read_end(); it holds a read transaction, so several queries
 *    see one snapshot.
 *  - Statements are prepared once per connection (SQLITE_PREPARE_PERSISTENT)
 *    and reset after use; the cache is keyed by the address of the SQL text,
 *    which is why every statement is a static const char array.
 */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/store.h"

#define STORE_STMT_CACHE 128

struct store_conn {
        sqlite3 *db;
        const char *keys[STORE_STMT_CACHE];
        sqlite3_stmt *stmts[STORE_STMT_CACHE];
        struct store_conn *next_free;
};

struct store_push_job;

struct store {
        char *path;
        struct store_conn *writer;
        pthread_mutex_t writer_lock;
        /* The last attempt to take the writer timed out (another process
         * holds the write lock): later writes wait only briefly. */
        atomic_bool write_stalled;

        /* Group commit of pushes (store_ops.c): pushes queue here; one of
         * them leads, running the queued pushes in one transaction so a
         * single fsync covers them all.  The leader waits briefly on
         * push_arrived (CLOCK_MONOTONIC) for announced pushes not yet
         * queued. */
        pthread_mutex_t push_lock;
        pthread_cond_t push_done, push_arrived;
        struct store_push_job *push_queue, *push_queue_tail;
        unsigned push_queued, push_announced;
        bool push_leader_active;

        struct store_conn *readers;
        unsigned n_readers;
        struct store_conn *free_readers;
        pthread_mutex_t readers_lock;
        pthread_cond_t readers_cond;
};

/* Prepared statement for sql on conn (cached); NULL on error (logged). */
sqlite3_stmt *store_stmt(struct store_conn *c, const char *sql);

/* Reset and clear bindings of a statement from store_stmt(). */
void store_stmt_done(sqlite3_stmt *st);

/* Writer transaction: lock, BEGIN IMMEDIATE, giving up with -EBUSY after
 * a bounded wait (see store_write_stalled()).  end() commits when commit is
 * true and r >= 0, rolls back otherwise, unlocks, and returns r (or the
 * commit's error). */
int store_write_begin(struct store *s, struct store_conn **ret);
int store_write_end(struct store *s, struct store_conn *c, int r, bool commit);

/* Reader snapshot: take a pooled connection, BEGIN; end() returns it. */
int store_read_begin(struct store *s, struct store_conn **ret);
void store_read_end(struct store *s, struct store_conn *c);

/* Map an SQLite result code to a negative errno (logging unexpected ones). */
int store_errno(struct store_conn *c, int rc, const char *what);

/* Run plain SQL (no results) on conn; negative errno on failure. */
int store_exec(struct store_conn *c, const char *sql);

/* store_exec() for one statement run on every request (BEGIN, COMMIT,
 * SAVEPOINT …): prepared once through the statement cache, so sql must
 * be a string with static storage, like every cached statement's. */
int store_exec_cached(struct store_conn *c, const char *sql);

/* Bind helpers: NULL strings bind NULL.  0, or -EIO when SQLite refuses
 * (a wrong index, out of memory): callers check every result. */
int store_bind_text(sqlite3_stmt *st, int idx, const char *v);
int store_bind_int64(sqlite3_stmt *st, int idx, int64_t v);
/* Bind args[i] (text, NULL for NULL) to ?(i+1); 0 or -EIO. */
int store_bind_texts(sqlite3_stmt *st, const char *const *args, size_t n);

/* Column helpers: a copy of a text column ("" for NULL); NULL on OOM. */
char *store_column_strdup(sqlite3_stmt *st, int col);
/* Borrowed text column, "" for NULL. */
const char *store_column_text(sqlite3_stmt *st, int col);

/* Migrations (store_schema.c). */
int store_migrate(struct store_conn *c, unsigned *ret_migrated);

/* Rewrite the database (VACUUM) and truncate the WAL, so that rows just
 * deleted or overwritten leave no copy in free space, free pages or the
 * WAL.  Outside any transaction; costs a full copy of the file. */
int store_scrub(struct store_conn *c);

/* Current time as RFC 3339 (the format every *_at column uses). */
void store_now(char out[21]);

/*
 * The helpers every store area uses.  Statements whose parameters are all
 * text run through these; the few with integer parameters bind them with
 * store_bind_int64() and check every result the same way.
 */

/* A row reader: copy what the caller wants out of the current row of st
 * into ret.  0 or a negative errno (-ENOMEM). */
typedef int (*store_row_fn)(sqlite3_stmt *st, void *ret);

/* Row readers for the common cases: column 0 as a new string (char **ret)
 * or as an integer (int64_t *ret). */
int store_row_string(sqlite3_stmt *st, void *ret);
int store_row_int64(sqlite3_stmt *st, void *ret);

/* Run a statement that returns no rows on c, binding args[i] (text, NULL
 * for NULL) to ?(i+1).  Returns the number of rows changed, or a negative
 * errno (what names the statement in the log). */
int store_run(struct store_conn *c, const char *sql, const char *what, const char *const *args,
              size_t n);

/* The same, alone in its own writer transaction. */
int store_write_one(struct store *s, const char *sql, const char *what, const char *const *args,
                    size_t n);

/* On c (inside a transaction), run sql with args bound as store_run()
 * does and hand the first row to read(st, ret).  Returns read's result,
 * -ENOENT when there is no row, or another negative errno. */
int store_query_one(struct store_conn *c, const char *sql, const char *what, store_row_fn read,
                    void *ret, const char *const *args, size_t n);

/* The same on a reader snapshot of its own. */
int store_read_one(struct store *s, const char *sql, const char *what, store_row_fn read, void *ret,
                   const char *const *args, size_t n);

#define STORE_ARGS(...)                                                                            \
        (const char *const[]){__VA_ARGS__},                                                        \
                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

#define STORE_QUERY_ONE(c, sql, what, read, ret, ...)                                              \
        store_query_one(c, sql, what, read, ret, STORE_ARGS(__VA_ARGS__))

#define STORE_READ_ONE(s, sql, what, read, ret, ...)                                               \
        store_read_one(s, sql, what, read, ret, STORE_ARGS(__VA_ARGS__))

#define STORE_RUN(c, sql, what, ...)                                                               \
        store_run(c, sql, what, (const char *const[]){__VA_ARGS__},                                \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

#define STORE_WRITE_ONE(s, sql, what, ...)                                                         \
        store_write_one(s, sql, what, (const char *const[]){__VA_ARGS__},                          \
                        sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Cleanup helper for a statement from store_stmt(). */
static inline void store_stmt_donep(sqlite3_stmt **st)
{
        if (*st)
                store_stmt_done(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(store_stmt_donep)))
