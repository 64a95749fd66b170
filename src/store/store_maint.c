/* SPDX-License-Identifier: MIT */
/*
 * Implementation of store/store_maint.h: the checks of the operation log
 * and the blob walks are plain queries; the snapshot and the database's
 * own integrity checks belong to the back end (struct store_backend).
 */
#include "store/store_maint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

int store_backup(struct store *s, const char *dest_path)
{
        return s->be->backup(s, dest_path);
}

int store_report(store_problem_fn problem, void *userdata, unsigned *n, const char *fmt, ...)
{
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        (*n)++;
        return problem(userdata, line);
}

static const struct db_sql sql_meta = {"SELECT value FROM server_meta WHERE key = 'last_sequence'"};
static const struct db_sql sql_seq_bad = {
        "SELECT count(*), coalesce(min(server_sequence), 0), coalesce(max(server_sequence), 0)"
        " FROM server_ops WHERE server_sequence <= 0 OR server_sequence > ?1"};

static int check_sequences(struct db_conn *c, store_problem_fn problem, void *userdata, unsigned *n)
{
        int64_t mark;
        int rc;

        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_meta);
                if (!st)
                        return -EIO;
                rc = db_step(st);
                if (rc != DB_ROW)
                        return store_report(
                                problem, userdata, n,
                                rc == DB_DONE ? "operations: the sequence high-water mark is "
                                                "missing"
                                              : "operations: cannot read the high-water mark");
                mark = db_column_int64(st, 0);
        }
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_seq_bad);
        if (!st || db_bind_int64(st, 1, mark) < 0)
                return -EIO;
        rc = db_step(st);
        if (rc != DB_ROW)
                return store_report(problem, userdata, n, "operations: cannot check sequences: %s",
                                    db_errmsg(c));
        if (db_column_int64(st, 0) > 0)
                return store_report(
                        problem, userdata, n,
                        "operations: %lld sequences are not in 1..%lld (high-water mark), "
                        "from %lld to %lld",
                        (long long)db_column_int64(st, 0), (long long)mark,
                        (long long)db_column_int64(st, 1), (long long)db_column_int64(st, 2));
        return 0;
}

int store_check(struct store *s, store_problem_fn problem, void *userdata)
{
        struct db_conn *c;
        unsigned n = 0;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = s->be->check(c, problem, userdata, &n);
        if (r >= 0)
                r = check_sequences(c, problem, userdata, &n);
        store_read_end(s, c);
        return r < 0 ? r : (int)n;
}

static const struct db_sql sql_referenced = {
        "SELECT r.sha256, coalesce(b.size, -1) FROM"
        " (SELECT DISTINCT sha256 FROM server_blob_refs) r"
        " LEFT JOIN server_blobs b ON b.sha256 = r.sha256 ORDER BY r.sha256"};

int store_blob_foreach_referenced(struct store *s, store_blob_fn fn, void *userdata)
{
        struct db_conn *c;
        int r, rc;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_referenced);
                if (!st)
                        r = -EIO;
                while (r >= 0 && (rc = db_step(st)) == DB_ROW)
                        r = fn(userdata, db_column_text(st, 0), db_column_int64(st, 1));
                if (r >= 0 && rc != DB_DONE)
                        r = db_fail(c, rc, "list referenced blobs");
        }
        store_read_end(s, c);
        return r;
}

static const struct db_sql sql_blob_totals = {
        "SELECT count(*), coalesce(sum(size), 0) FROM server_blobs"};

int store_blob_totals(struct store *s, uint64_t *ret_blobs, uint64_t *ret_bytes)
{
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_blob_totals);
                int rc = st ? db_step(st) : -EIO;
                if (rc == DB_ROW) {
                        *ret_blobs = (uint64_t)db_column_int64(st, 0);
                        *ret_bytes = (uint64_t)db_column_int64(st, 1);
                } else
                        r = st ? db_fail(c, rc, "blob totals") : -EIO;
        }
        store_read_end(s, c);
        return r;
}

/* Bytes of the file at path with suffix, 0 when there is none. */
static uint64_t file_bytes(const char *path, const char *suffix)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (asprintf(&p, "%s%s", path, suffix) < 0 || stat(p, &st) < 0)
                return 0;
        return (uint64_t)st.st_size;
}

static const struct db_sql sql_database_bytes = {
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        .pg = "SELECT pg_database_size(current_database())"};

int store_database_bytes(struct store *s, uint64_t *ret)
{
        struct db_conn *c;
        int r;

        if (s->be->kind == DB_SQLITE) {
                *ret = file_bytes(s->target, "") + file_bytes(s->target, "-wal");
                return 0;
        }
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_database_bytes);
                int rc = st ? db_step(st) : -EIO;
                if (rc == DB_ROW)
                        *ret = (uint64_t)db_column_int64(st, 0);
                else
                        r = st ? db_fail(c, rc, "database size") : -EIO;
        }
        store_read_end(s, c);
        return r;
}
