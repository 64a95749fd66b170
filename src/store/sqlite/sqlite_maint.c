/* SPDX-License-Identifier: MIT */
/*
 * The SQLite back end's part of store/store_maint.h: snapshots through the
 * online backup API, and PRAGMA integrity_check / foreign_key_check.  No
 * file other than the database and its copy is touched here.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite/sqlite.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

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

/* A failure of the backup API, logged as db_fail() would. */
static int backup_fail(int rc, const char *what)
{
        int r = sqlite_fail(rc);

        if (r == -EIO || r == -EACCES)
                log_error("database: %s failed: %s", what, sqlite3_errstr(rc));
        return r;
}

int sqlite_backup(struct store *s, const char *dest_path)
{
        struct db_conn *c;
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
        r = store_reader_take(s, &c);
        if (r < 0) {
                sqlite3_close_v2(dest);
                (void)unlink(dest_path);
                return r;
        }
        sqlite3_backup *b = sqlite3_backup_init(dest, "main", sqlite_db(c), "main");
        if (!b)
                r = backup_fail(sqlite3_errcode(dest), "start the backup");
        else {
                rc = sqlite3_backup_step(b, -1);
                r = rc == SQLITE_DONE ? 0 : backup_fail(rc, "back up the database");
                rc = sqlite3_backup_finish(b);
                if (r >= 0 && rc != SQLITE_OK)
                        r = backup_fail(rc, "finish the backup");
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

static const struct db_sql sql_integrity = {"PRAGMA integrity_check(100)"};
static const struct db_sql sql_foreign = {"PRAGMA foreign_key_check"};

/* Run a PRAGMA whose rows are problems ("ok" alone means none). */
static int check_pragma(struct db_conn *c, const struct db_sql *q, const char *what,
                        store_problem_fn problem, void *userdata, unsigned *n)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, q);
        int rc = DB_DONE, r = 0;

        if (!st)
                return store_report(problem, userdata, n, "database: cannot run %s: %s", what,
                                    sqlite3_errmsg(sqlite_db(c)));
        while (r >= 0 && (rc = db_step(st)) == DB_ROW) {
                const char *v = db_column_text(st, 0);
                if (db_column_count(st) == 1 && strcmp(v, "ok") == 0)
                        continue;
                if (db_column_count(st) >= 4)
                        r = store_report(
                                problem, userdata, n,
                                "database: %s: row %lld of %s refers to a missing row of %s", what,
                                (long long)db_column_int64(st, 1), v, db_column_text(st, 2));
                else
                        r = store_report(problem, userdata, n, "database: %s: %s", what, v);
        }
        if (r >= 0 && rc != DB_DONE)
                r = store_report(problem, userdata, n, "database: %s failed: %s", what,
                                 sqlite3_errmsg(sqlite_db(c)));
        return r;
}

int sqlite_check(struct db_conn *c, store_problem_fn problem, void *userdata, unsigned *n)
{
        int r = check_pragma(c, &sql_integrity, "integrity_check", problem, userdata, n);

        if (r >= 0)
                r = check_pragma(c, &sql_foreign, "foreign_key_check", problem, userdata, n);
        return r;
}
