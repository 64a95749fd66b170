/* SPDX-License-Identifier: MIT */
/*
 * The store's statement layer: the only interface the store areas
 * (src/store/store_*.c) use to talk to a database, so that the same area
 * code runs on every back end.  Private to src/store; a driver
 * (src/store/sqlite/, src/store/pg/) implements struct db_driver.
 *
 * A query is a struct db_sql: one portable text, with the PostgreSQL text
 * beside it only where the dialects differ.  Portable text numbers its
 * parameters ?1, ?2, ... (or plain ?, counted from the left); the
 * PostgreSQL driver rewrites them to $1, $2, ...  Keep to what both
 * dialects read the same way: INSERT ... ON CONFLICT, RETURNING,
 * coalesce(), integer and text columns.
 *
 * Contract:
 *  - Statements are prepared once per connection and cached; the cache is
 *    keyed by the address of the struct db_sql, which is why every query
 *    is a static const object.  db_stmt_done() resets a statement for its
 *    next use.  db_prepare() prepares a one-off statement (the console's
 *    assembled lists); free it with db_stmt_free().
 *  - db_step() returns DB_ROW, DB_DONE or a negative errno from the
 *    driver's one mapping: -EEXIST a uniqueness or constraint violation,
 *    -EBUSY a lock not granted in time (SQLite busy, PostgreSQL
 *    serialization failure, deadlock, lock timeout), -ENOSPC the disk is
 *    full, -ENOMEM, -EACCES a read-only or refused database, -EIO anything
 *    else.  It does not log: db_fail() logs the driver's message once for
 *    the errors that deserve it and returns its argument.
 *  - Column values are borrowed until the next step or reset.  Text of a
 *    NULL column reads as "", an integer of a NULL column as 0.
 *  - A connection belongs to one thread at a time (the store's writer lock
 *    or a reader taken from the pool).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A query: portable text, and the PostgreSQL text when it differs. */
struct db_sql {
        const char *sql;
        const char *pg;
};

enum db_kind {
        DB_SQLITE,
        DB_PG,
};

/* Results of db_step(). */
#define DB_DONE 0
#define DB_ROW  1

/* Types of db_column_type(). */
enum db_type {
        DB_NULL,
        DB_INT,
        DB_TEXT,
};

/* Transactions: a reader's snapshot, the writer's (which takes the
 * database's write lock at once). */
enum db_txn {
        DB_TXN_READ,
        DB_TXN_WRITE,
};

struct db_conn;
struct db_stmt;

/*
 * A text column read a piece at a time, without reading the rest of its
 * value: the column of the row whose integer primary key (SQLite's rowid)
 * is key.  SQLite reads the piece with incremental blob I/O from table
 * and column; PostgreSQL runs piece.pg, a query of (key, 1-based byte
 * offset, length in bytes) answering those bytes of the value's UTF-8
 * form in hex.  A static const object, as every query.
 */
struct db_text_column {
        const char *table, *column;
        struct db_sql piece;
};

/* What a driver provides.  Every function gets objects of its own driver. */
struct db_driver {
        enum db_kind kind;
        const char *name;
        /* Prepare sql (driver dialect already chosen); cached says it
         * lives as long as the connection. */
        int (*prepare)(struct db_conn *c, const char *sql, bool cached, struct db_stmt **ret);
        void (*reset)(struct db_stmt *st);
        void (*free)(struct db_stmt *st);
        int (*bind_text)(struct db_stmt *st, int idx, const char *v);
        int (*bind_int64)(struct db_stmt *st, int idx, int64_t v);
        int (*step)(struct db_stmt *st);
        int64_t (*changes)(struct db_stmt *st);
        int (*column_count)(struct db_stmt *st);
        const char *(*column_name)(struct db_stmt *st, int col);
        enum db_type (*column_type)(struct db_stmt *st, int col);
        const char *(*column_text)(struct db_stmt *st, int col);
        int64_t (*column_int64)(struct db_stmt *st, int col);
        int (*exec)(struct db_conn *c, const char *sql);
        /* db_read_text_piece() */
        int (*read_text_piece)(struct db_conn *c, const struct db_text_column *col, int64_t key,
                               uint64_t at, char *buf, size_t max, size_t *ret_len);
        /* Begin a transaction, waiting at most wait_ms for a write lock. */
        int (*begin)(struct db_conn *c, enum db_txn txn, unsigned wait_ms);
        int (*commit)(struct db_conn *c);
        void (*rollback)(struct db_conn *c);
        bool (*in_transaction)(struct db_conn *c);
        const char *(*errmsg)(struct db_conn *c);
        void (*close)(struct db_conn *c);
};

/*
 * A driver's table, for a driver whose hooks are the static functions
 * drv_<hook> of its file (drv_prepare, drv_reset, ...): one list of hooks
 * for every driver, and a driver that lacks one does not compile (a NULL
 * hook would fail only when called).
 */
#define DB_DRIVER_TABLE(kind_, name_)                                                              \
        {                                                                                          \
                .kind = (kind_), .name = (name_), .prepare = drv_prepare, .reset = drv_reset,      \
                .free = drv_free, .bind_text = drv_bind_text, .bind_int64 = drv_bind_int64,        \
                .step = drv_step, .changes = drv_changes, .column_count = drv_column_count,        \
                .column_name = drv_column_name, .column_type = drv_column_type,                    \
                .column_text = drv_column_text, .column_int64 = drv_column_int64,                  \
                .exec = drv_exec, .read_text_piece = drv_read_text_piece, .begin = drv_begin,      \
                .commit = drv_commit, .rollback = drv_rollback,                                    \
                .in_transaction = drv_in_transaction, .errmsg = drv_errmsg, .close = drv_close,    \
        }

#define DB_STMT_CACHE 128

/* The part of a connection every driver shares (first member of its own). */
struct db_conn {
        const struct db_driver *drv;
        const struct db_sql *keys[DB_STMT_CACHE];
        struct db_stmt *stmts[DB_STMT_CACHE];
        struct db_conn *next_free; /* the store's reader pool */
};

/* The part of a statement every driver shares. */
struct db_stmt {
        struct db_conn *conn;
};

static inline enum db_kind db_kind(const struct db_conn *c)
{
        return c->drv->kind;
}

/* The text of q in c's dialect. */
const char *db_sql_text(const struct db_conn *c, const struct db_sql *q);

/* The cached statement of q on c; NULL on error (logged). */
struct db_stmt *db_stmt(struct db_conn *c, const struct db_sql *q);
/* Reset a statement of db_stmt() and clear its bindings.  NULL is a no-op. */
void db_stmt_done(struct db_stmt *st);

/* A one-off statement of portable text; 0 or a negative errno (logged). */
int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **ret);
/* The same for a statement run many times over (a bulk copy): prepared
 * once by the server, whose plan then lives as long as the connection, so
 * not for statements assembled per request. */
int db_prepare_repeated(struct db_conn *c, const char *sql, struct db_stmt **ret);
void db_stmt_free(struct db_stmt *st);

/* Bind helpers: NULL strings bind NULL.  0, or -EIO. */
int db_bind_text(struct db_stmt *st, int idx, const char *v);
int db_bind_int64(struct db_stmt *st, int idx, int64_t v);
/* Bind args[i] (text, NULL for NULL) to parameter i+1; 0 or -EIO. */
int db_bind_texts(struct db_stmt *st, const char *const *args, size_t n);

int db_step(struct db_stmt *st);
/* Rows inserted, updated or deleted by the statement's last step. */
int64_t db_changes(struct db_stmt *st);

/* The columns of the result: known after the first db_step() (PostgreSQL
 * runs the statement then). */
int db_column_count(struct db_stmt *st);
const char *db_column_name(struct db_stmt *st, int col);
enum db_type db_column_type(struct db_stmt *st, int col);
const char *db_column_text(struct db_stmt *st, int col);
int64_t db_column_int64(struct db_stmt *st, int col);
/* A copy of a text column ("" for NULL); NULL on OOM. */
char *db_column_strdup(struct db_stmt *st, int col);

/* Run SQL without results (driver dialect); 0 or a negative errno,
 * logged as db_fail() does. */
int db_exec(struct db_conn *c, const char *sql);

/* Read at most max bytes of col's value in row key, from byte offset at,
 * into buf: 0 and their number in *ret_len (less than max only at the
 * value's end), -ENOENT when there is no such row, or a negative errno
 * (logged as db_fail() does).  A piece may end inside a UTF-8 sequence. */
int db_read_text_piece(struct db_conn *c, const struct db_text_column *col, int64_t key,
                       uint64_t at, char *buf, size_t max, size_t *ret_len);

/* db_exec() for one statement run on every request (BEGIN, COMMIT,
 * SAVEPOINT ...): through the statement cache, so q is static like every
 * cached query. */
int db_exec_cached(struct db_conn *c, const struct db_sql *q);

/* The same without logging a failure (a driver's own transaction control,
 * whose caller logs); 0 or a negative errno. */
int db_run_cached(struct db_conn *c, const struct db_sql *q);

/* Log r (a result of the functions above) with the driver's message when
 * it is -EIO or -EACCES, naming what failed; returns r, or 0 for DB_ROW
 * and DB_DONE. */
int db_fail(struct db_conn *c, int r, const char *what);

/* The driver's message for the last failure on c. */
const char *db_errmsg(struct db_conn *c);

int db_begin(struct db_conn *c, enum db_txn txn, unsigned wait_ms);
int db_commit(struct db_conn *c);
void db_rollback(struct db_conn *c);
bool db_in_transaction(struct db_conn *c);

/* Finalize every cached statement and close the connection.  NULL is a
 * no-op. */
void db_close(struct db_conn *c);

static inline void db_stmt_donep(struct db_stmt **st)
{
        if (*st)
                db_stmt_done(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(db_stmt_donep)))

static inline void db_stmt_freep(struct db_stmt **st)
{
        if (*st)
                db_stmt_free(*st);
}
#define _cleanup_stmt_free_ __attribute__((cleanup(db_stmt_freep)))
