/* SPDX-License-Identifier: MIT */
/*
 * The statement layer of db.h: the per-connection statement cache and the
 * dispatch to a connection's driver.  No SQL and no driver knowledge here.
 */
#include "store/db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

const char *db_sql_text(const struct db_conn *c, const struct db_sql *q)
{
        return c->drv->kind == DB_PG && q->pg ? q->pg : q->sql;
}

struct db_stmt *db_stmt(struct db_conn *c, const struct db_sql *q)
{
        size_t h = ((uintptr_t)q >> 3) % DB_STMT_CACHE;

        for (size_t i = 0; i < DB_STMT_CACHE; i++) {
                size_t k = (h + i) % DB_STMT_CACHE;
                struct db_stmt *st = NULL;

                if (c->keys[k] == q)
                        return c->stmts[k];
                if (c->keys[k])
                        continue;
                if (c->drv->prepare(c, db_sql_text(c, q), true, &st) < 0) {
                        log_error("database: cannot prepare statement: %s", c->drv->errmsg(c));
                        return NULL;
                }
                c->keys[k] = q;
                c->stmts[k] = st;
                return st;
        }
        /* Cache full: a programming error (raise DB_STMT_CACHE). */
        log_error("database: statement cache full");
        return NULL;
}

void db_stmt_done(struct db_stmt *st)
{
        if (st)
                st->conn->drv->reset(st);
}

static int prepare(struct db_conn *c, const char *sql, bool repeated, struct db_stmt **ret)
{
        int r = c->drv->prepare(c, sql, repeated, ret);

        if (r < 0)
                log_error("database: cannot prepare statement: %s", c->drv->errmsg(c));
        return r;
}

int db_prepare(struct db_conn *c, const char *sql, struct db_stmt **ret)
{
        return prepare(c, sql, false, ret);
}

int db_prepare_repeated(struct db_conn *c, const char *sql, struct db_stmt **ret)
{
        return prepare(c, sql, true, ret);
}

void db_stmt_free(struct db_stmt *st)
{
        if (st)
                st->conn->drv->free(st);
}

int db_bind_text(struct db_stmt *st, int idx, const char *v)
{
        return st->conn->drv->bind_text(st, idx, v);
}

int db_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
        return st->conn->drv->bind_int64(st, idx, v);
}

int db_bind_texts(struct db_stmt *st, const char *const *args, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (db_bind_text(st, (int)i + 1, args[i]) < 0)
                        return -EIO;
        return 0;
}

int db_step(struct db_stmt *st)
{
        return st->conn->drv->step(st);
}

int64_t db_changes(struct db_stmt *st)
{
        return st->conn->drv->changes(st);
}

int db_column_count(struct db_stmt *st)
{
        return st->conn->drv->column_count(st);
}

const char *db_column_name(struct db_stmt *st, int col)
{
        return st->conn->drv->column_name(st, col);
}

enum db_type db_column_type(struct db_stmt *st, int col)
{
        return st->conn->drv->column_type(st, col);
}

const char *db_column_text(struct db_stmt *st, int col)
{
        const char *t = st->conn->drv->column_text(st, col);
        return t ? t : "";
}

int64_t db_column_int64(struct db_stmt *st, int col)
{
        return st->conn->drv->column_int64(st, col);
}

char *db_column_strdup(struct db_stmt *st, int col)
{
        return strdup(db_column_text(st, col));
}

int db_exec(struct db_conn *c, const char *sql)
{
        return db_fail(c, c->drv->exec(c, sql), "exec");
}

int db_read_text_piece(struct db_conn *c, const struct db_text_column *col, int64_t key,
                       uint64_t at, char *buf, size_t max, size_t *ret_len)
{
        *ret_len = 0;
        return db_fail(c, c->drv->read_text_piece(c, col, key, at, buf, max, ret_len),
                       "read a piece of text");
}

int db_fail(struct db_conn *c, int r, const char *what)
{
        if (r >= 0)
                return 0;
        if (r == -EIO || r == -EACCES)
                log_error("database: %s failed: %s", what, c->drv->errmsg(c));
        return r;
}

int db_run_cached(struct db_conn *c, const struct db_sql *q)
{
        struct db_stmt *st = db_stmt(c, q);
        int r;

        if (!st)
                return -EIO;
        r = db_step(st);
        db_stmt_done(st);
        return r < 0 ? r : 0;
}

int db_exec_cached(struct db_conn *c, const struct db_sql *q)
{
        return db_fail(c, db_run_cached(c, q), "exec");
}

const char *db_errmsg(struct db_conn *c)
{
        return c->drv->errmsg(c);
}

int db_begin(struct db_conn *c, enum db_txn txn, unsigned wait_ms)
{
        return c->drv->begin(c, txn, wait_ms);
}

int db_commit(struct db_conn *c)
{
        return c->drv->commit(c);
}

void db_rollback(struct db_conn *c)
{
        c->drv->rollback(c);
}

bool db_in_transaction(struct db_conn *c)
{
        return c->drv->in_transaction(c);
}

void db_close(struct db_conn *c)
{
        if (!c || !c->drv)
                return;
        for (size_t i = 0; i < DB_STMT_CACHE; i++)
                if (c->stmts[i])
                        c->drv->free(c->stmts[i]);
        memset(c->keys, 0, sizeof(c->keys));
        memset(c->stmts, 0, sizeof(c->stmts));
        c->drv->close(c);
}
