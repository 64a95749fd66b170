/* SPDX-License-Identifier: MIT */
/*
 * Implementation of store/store_maint.h over SQLite: the online backup API
 * for snapshots, PRAGMA integrity_check / foreign_key_check, and plain
 * queries for the log and blob checks.  No file other than the database
 * and its copy is touched here.
 */
#include "store/store_maint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* store_check() reports at most this many lines of integrity_check. */
#define STORE_CHECK_MAX_INTEGRITY_LINES 100

static int fsync_path(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

static int fsync_parent(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        return fs_fsync_dir(AT_FDCWD, dirname(copy));
}

int store_backup(struct store *s, const char *dest_path)
{
        struct store_conn *c;
        sqlite3 *dest = NULL;
        struct stat st;
        int r, rc;

        if (lstat(dest_path, &st) == 0)
                return -EEXIST;
        rc = sqlite3_open_v2(dest_path, &dest,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                sqlite3_close_v2(dest);
                return rc == SQLITE_CANTOPEN ? -EACCES : -EIO;
        }

        /* One step over a pooled reader, outside any transaction of its
         * own: the backup reads every page in one read transaction, so the
         * copy is one committed state however busy the writer is. */
        pthread_mutex_lock(&s->readers_lock);
        while (!s->free_readers)
                pthread_cond_wait(&s->readers_cond, &s->readers_lock);
        c = s->free_readers;
        s->free_readers = c->next_free;
        pthread_mutex_unlock(&s->readers_lock);

        sqlite3_backup *b = sqlite3_backup_init(dest, "main", c->db, "main");
        if (!b)
                r = store_errno(NULL, sqlite3_errcode(dest), "start the backup");
        else {
                rc = sqlite3_backup_step(b, -1);
                r = rc == SQLITE_DONE ? 0 : store_errno(NULL, rc, "back up the database");
                rc = sqlite3_backup_finish(b);
                if (r >= 0 && rc != SQLITE_OK)
                        r = store_errno(NULL, rc, "finish the backup");
        }
        store_read_end(s, c);

        /* A self-contained file: the copy took the source's WAL mode;
         * undo that so it needs no -wal beside it. */
        if (r >= 0 &&
            sqlite3_exec(dest, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
                r = -EIO;
        if (sqlite3_close(dest) != SQLITE_OK && r >= 0)
                r = -EIO;
        if (r >= 0)
                r = fsync_path(dest_path);
        if (r >= 0)
                r = fsync_parent(dest_path);
        if (r < 0)
                (void)unlink(dest_path);
        return r;
}

static int report(store_problem_fn problem, void *userdata, unsigned *n, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int report(store_problem_fn problem, void *userdata, unsigned *n, const char *fmt, ...)
{
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        (*n)++;
        return problem(userdata, line);
}

static const char sql_integrity[] = "PRAGMA integrity_check("
                                    "100"
                                    ")";
static const char sql_foreign[] = "PRAGMA foreign_key_check";
static const char sql_meta[] = "SELECT value FROM server_meta WHERE key = 'last_sequence'";
static const char sql_seq_bad[] =
        "SELECT count(*), coalesce(min(server_sequence), 0), coalesce(max(server_sequence), 0)"
        " FROM server_ops WHERE server_sequence <= 0 OR server_sequence > ?1";

/* Run a PRAGMA whose rows are problems ("ok" alone means none). */
static int check_pragma(struct store_conn *c, const char *sql, const char *what,
                        store_problem_fn problem, void *userdata, unsigned *n)
{
        _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql);
        int rc, r = 0;

        if (!st)
                return report(problem, userdata, n, "database: cannot run %s: %s", what,
                              sqlite3_errmsg(c->db));
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *v = store_column_text(st, 0);
                if (sqlite3_column_count(st) == 1 && strcmp(v, "ok") == 0)
                        continue;
                if (sqlite3_column_count(st) >= 4)
                        r = report(problem, userdata, n,
                                   "database: %s: row %lld of %s refers to a missing row of %s",
                                   what, (long long)sqlite3_column_int64(st, 1), v,
                                   store_column_text(st, 2));
                else
                        r = report(problem, userdata, n, "database: %s: %s", what, v);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = report(problem, userdata, n, "database: %s failed: %s", what,
                           sqlite3_errmsg(c->db));
        return r;
}

static int check_sequences(struct store_conn *c, store_problem_fn problem, void *userdata,
                           unsigned *n)
{
        int64_t mark;
        int rc;

        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_meta);
                if (!st)
                        return -EIO;
                rc = sqlite3_step(st);
                if (rc != SQLITE_ROW)
                        return report(problem, userdata, n,
                                      rc == SQLITE_DONE
                                              ? "operations: the sequence high-water mark is "
                                                "missing"
                                              : "operations: cannot read the high-water mark");
                mark = sqlite3_column_int64(st, 0);
        }
        _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_seq_bad);
        if (!st)
                return -EIO;
        store_bind_int64(st, 1, mark);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return report(problem, userdata, n, "operations: cannot check sequences: %s",
                              sqlite3_errmsg(c->db));
        if (sqlite3_column_int64(st, 0) > 0)
                return report(problem, userdata, n,
                              "operations: %lld sequences are not in 1..%lld (high-water mark), "
                              "from %lld to %lld",
                              (long long)sqlite3_column_int64(st, 0), (long long)mark,
                              (long long)sqlite3_column_int64(st, 1),
                              (long long)sqlite3_column_int64(st, 2));
        return 0;
}

int store_check(struct store *s, store_problem_fn problem, void *userdata)
{
        struct store_conn *c;
        unsigned n = 0;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = check_pragma(c, sql_integrity, "integrity_check", problem, userdata, &n);
        if (r >= 0)
                r = check_pragma(c, sql_foreign, "foreign_key_check", problem, userdata, &n);
        if (r >= 0)
                r = check_sequences(c, problem, userdata, &n);
        store_read_end(s, c);
        return r < 0 ? r : (int)n;
}

static const char sql_referenced[] =
        "SELECT r.sha256, coalesce(b.size, -1) FROM"
        " (SELECT DISTINCT sha256 FROM server_blob_refs) r"
        " LEFT JOIN server_blobs b ON b.sha256 = r.sha256 ORDER BY r.sha256";

int store_blob_foreach_referenced(struct store *s, store_blob_fn fn, void *userdata)
{
        struct store_conn *c;
        int r, rc;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_referenced);
                if (!st)
                        r = -EIO;
                while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
                        r = fn(userdata, store_column_text(st, 0), sqlite3_column_int64(st, 1));
                if (r >= 0 && rc != SQLITE_DONE)
                        r = store_errno(c, rc, "list referenced blobs");
        }
        store_read_end(s, c);
        return r;
}

static const char sql_blob_totals[] = "SELECT count(*), coalesce(sum(size), 0) FROM server_blobs";

int store_blob_totals(struct store *s, uint64_t *ret_blobs, uint64_t *ret_bytes)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_blob_totals);
                int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
                if (rc == SQLITE_ROW) {
                        *ret_blobs = (uint64_t)sqlite3_column_int64(st, 0);
                        *ret_bytes = (uint64_t)sqlite3_column_int64(st, 1);
                } else
                        r = st ? store_errno(c, rc, "blob totals") : -EIO;
        }
        store_read_end(s, c);
        return r;
}
