/* SPDX-License-Identifier: MIT */
/*
 * The SQLite driver of db.h and the SQLite back end of store_internal.h:
 * connections opened with the pragmas the design requires (WAL,
 * synchronous, busy timeout, foreign keys, read-only readers), statements,
 * the one mapping from SQLite's result codes to errno, transactions
 * (BEGIN IMMEDIATE for the writer), WAL checkpoints and VACUUM.
 */
#include "store/sqlite/sqlite.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* How long a reader waits for a lock held by another process (in WAL mode
 * readers wait only in rare recovery cases) before giving up with -EBUSY. */
#define SQLITE_BUSY_TIMEOUT_MS 5000

/* Page cache per connection, in KiB (SQLite's default is 2 000 KiB each).
 * The cache is anonymous memory that stays once filled; the kernel's page
 * cache holds the file anyway, so readers keep a small one and the writer,
 * which re-reads the indexes it updates, a larger one. */
#define SQLITE_WRITER_CACHE_KIB 2048
#define SQLITE_READER_CACHE_KIB 512

static sqlite3_stmt *raw(struct db_stmt *st)
{
        return ((struct sqlite_stmt *)st)->st;
}

int sqlite_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        default:
                return -EIO;
        }
}

int sqlite_fail(int rc)
{
        int r = sqlite_errno(rc);
        return r < 0 ? r : -EIO;
}

static int drv_prepare(struct db_conn *c, const char *sql, bool cached, struct db_stmt **ret)
{
        struct sqlite_stmt *st = calloc(1, sizeof(*st));
        int rc;

        if (!st)
                return -ENOMEM;
        rc = sqlite3_prepare_v3(sqlite_db(c), sql, -1, cached ? SQLITE_PREPARE_PERSISTENT : 0,
                                &st->st, NULL);
        if (rc != SQLITE_OK) {
                free(st);
                return sqlite_fail(rc);
        }
        st->base.conn = c;
        *ret = &st->base;
        return 0;
}

static void drv_reset(struct db_stmt *st)
{
        sqlite3_reset(raw(st));
        sqlite3_clear_bindings(raw(st));
}

static void drv_free(struct db_stmt *st)
{
        sqlite3_finalize(raw(st));
        free(st);
}

static int drv_bind_text(struct db_stmt *st, int idx, const char *v)
{
        int rc = v ? sqlite3_bind_text(raw(st), idx, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(raw(st), idx);
        return rc == SQLITE_OK ? 0 : -EIO;
}

static int drv_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
        return sqlite3_bind_int64(raw(st), idx, v) == SQLITE_OK ? 0 : -EIO;
}

static int drv_step(struct db_stmt *st)
{
        int rc = sqlite3_step(raw(st));

        if (rc == SQLITE_ROW)
                return DB_ROW;
        if (rc == SQLITE_DONE)
                return DB_DONE;
        return sqlite_fail(rc);
}

static int64_t drv_changes(struct db_stmt *st)
{
        return sqlite3_changes(sqlite_db(st->conn));
}

static int drv_column_count(struct db_stmt *st)
{
        return sqlite3_column_count(raw(st));
}

static const char *drv_column_name(struct db_stmt *st, int col)
{
        return sqlite3_column_name(raw(st), col);
}

static enum db_type drv_column_type(struct db_stmt *st, int col)
{
        switch (sqlite3_column_type(raw(st), col)) {
        case SQLITE_NULL:
                return DB_NULL;
        case SQLITE_INTEGER:
                return DB_INT;
        default:
                return DB_TEXT;
        }
}

static const char *drv_column_text(struct db_stmt *st, int col)
{
        return (const char *)sqlite3_column_text(raw(st), col);
}

static int64_t drv_column_int64(struct db_stmt *st, int col)
{
        return sqlite3_column_int64(raw(st), col);
}

static int drv_exec(struct db_conn *c, const char *sql)
{
        int rc = sqlite3_exec(sqlite_db(c), sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : sqlite_fail(rc);
}

static bool drv_in_transaction(struct db_conn *c)
{
        return !sqlite3_get_autocommit(sqlite_db(c));
}

static void drv_rollback(struct db_conn *c)
{
        if (drv_in_transaction(c))
                (void)sqlite3_exec(sqlite_db(c), "ROLLBACK", NULL, NULL, NULL);
}

/* Transaction control run on every request, through the statement cache. */
static const struct db_sql sql_begin = {"BEGIN"};
static const struct db_sql sql_begin_immediate = {"BEGIN IMMEDIATE"};
static const struct db_sql sql_commit = {"COMMIT"};

static int drv_begin(struct db_conn *c, enum db_txn txn, unsigned wait_ms)
{
        int r;

        if (txn == DB_TXN_READ)
                return db_run_cached(c, &sql_begin);
        /* The writer waits for SQLite's write lock (another process may
         * hold it) only as long as the caller still may. */
        sqlite3_busy_timeout(sqlite_db(c), (int)wait_ms);
        r = db_run_cached(c, &sql_begin_immediate);
        if (r < 0)
                drv_rollback(c);
        return r;
}

static int drv_commit(struct db_conn *c)
{
        return db_run_cached(c, &sql_commit);
}

static const char *drv_errmsg(struct db_conn *c)
{
        return sqlite3_errmsg(sqlite_db(c));
}

/* Incremental blob I/O reads TEXT values as well, from the row's pages
 * at the offset, without loading the value whole. */
static int drv_read_text_piece(struct db_conn *c, const struct db_text_column *col, int64_t key,
                               uint64_t at, char *buf, size_t max, size_t *ret_len)
{
        sqlite3_blob *blob = NULL;
        int rc, bytes;

        rc = sqlite3_blob_open(sqlite_db(c), "main", col->table, col->column, key, 0, &blob);
        if (rc != SQLITE_OK) {
                bool gone = strncmp(sqlite3_errmsg(sqlite_db(c)), "no such rowid", 13) == 0;
                sqlite3_blob_close(blob);
                return gone ? -ENOENT : sqlite_fail(rc);
        }
        bytes = sqlite3_blob_bytes(blob);
        if (at < (uint64_t)bytes) {
                size_t n = (size_t)bytes - (size_t)at;
                if (n > max)
                        n = max;
                rc = sqlite3_blob_read(blob, buf, (int)n, (int)at);
                if (rc == SQLITE_OK)
                        *ret_len = n;
        }
        sqlite3_blob_close(blob);
        return rc == SQLITE_OK ? 0 : sqlite_fail(rc);
}

static void drv_close(struct db_conn *c)
{
        struct sqlite_conn *sc = (struct sqlite_conn *)c;

        if (sc->db)
                sqlite3_close_v2(sc->db);
        free(sc);
}

static const struct db_driver sqlite_driver = DB_DRIVER_TABLE(DB_SQLITE, "sqlite");

/* SQLite counts every allocation of every connection under one global
 * mutex for sqlite3_memory_used(), which nothing here reads: the writer
 * and the readers on the HTTP workers would take turns on it.  Effective
 * only before SQLite's first use in the process (else ignored). */
static void sqlite_configure(void)
{
        (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int be_connect(struct store *s, bool writer, bool sync_full, struct db_conn **ret)
{
        static pthread_once_t configured = PTHREAD_ONCE_INIT;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
        struct sqlite_conn *c;
        char pragmas[256];
        int rc, r;

        (void)pthread_once(&configured, sqlite_configure);
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->base.drv = &sqlite_driver;
        if (writer)
                flags |= SQLITE_OPEN_CREATE;
        rc = sqlite3_open_v2(s->target, &c->db, flags, NULL);
        if (rc != SQLITE_OK) {
                r = c->db ? db_fail(&c->base, sqlite_fail(rc), "open") : -ENOMEM;
                drv_close(&c->base);
                return r;
        }
        sqlite3_extended_result_codes(c->db, 1);
        sqlite3_busy_timeout(c->db, SQLITE_BUSY_TIMEOUT_MS);
        snprintf(pragmas, sizeof(pragmas),
                 "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;"
                 " PRAGMA cache_size=-%d;%s",
                 sync_full ? "FULL" : "NORMAL",
                 writer ? SQLITE_WRITER_CACHE_KIB : SQLITE_READER_CACHE_KIB,
                 writer ? "" : " PRAGMA query_only=1;");
        r = drv_exec(&c->base, pragmas);
        if (r < 0) {
                r = db_fail(&c->base, r, "configure connection");
                drv_close(&c->base);
                return r;
        }
        *ret = &c->base;
        return 0;
}

static int user_version(struct db_conn *c)
{
        sqlite3_stmt *st = NULL;
        int rc, version = -1;

        rc = sqlite3_prepare_v2(sqlite_db(c), "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version < 0)
                return db_fail(c, sqlite_fail(rc), "read the schema version");
        return version;
}

static int be_setup(struct store *s, const struct store_options *opts, unsigned *ret_migrated)
{
        sqlite3_stmt *st = NULL;
        char *mode = NULL;
        int rc, version;

        /* WAL must be on before any reader opens.  It is persistent. */
        rc = sqlite3_prepare_v2(sqlite_db(s->writer), "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                mode = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!mode || strcmp(mode, "wal") != 0) {
                free(mode);
                log_error("database: cannot switch to WAL journal mode");
                return -EIO;
        }
        free(mode);

        if (!opts->no_migrate)
                return sqlite_migrate(s->writer, ret_migrated);
        /* For no_migrate: the schema must be exactly this build's. */
        version = user_version(s->writer);
        if (version < 0)
                return version;
        if (version > STORE_SCHEMA_VERSION)
                return -EPROTONOSUPPORT;
        return version < STORE_SCHEMA_VERSION ? -ESTALE : 0;
}

static int be_checkpoint(struct db_conn *c)
{
        int rc = sqlite3_wal_checkpoint_v2(sqlite_db(c), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                           NULL);
        return rc == SQLITE_OK ? 0 : db_fail(c, sqlite_fail(rc), "checkpoint");
}

int sqlite_scrub(struct db_conn *c)
{
        int r = drv_exec(c, "VACUUM");

        if (r < 0)
                return db_fail(c, r, "VACUUM");
        return be_checkpoint(c);
}

/* The page cache fills up to cache_size with every page a connection
 * reads; after a burst it is handed back (store_release_memory()). */
static void be_release_memory(struct db_conn *c)
{
        (void)sqlite3_db_release_memory(sqlite_db(c));
}

static const struct db_sql sql_probe = {"SELECT count(*) FROM sqlite_master"};

const struct store_backend store_backend_sqlite = {
        .kind = DB_SQLITE,
        .connect = be_connect,
        .setup = be_setup,
        .schema_version = user_version,
        .checkpoint = be_checkpoint,
        .release_memory = be_release_memory,
        .scrub = sqlite_scrub,
        .backup = sqlite_backup,
        .check = sqlite_check,
        .probe = &sql_probe,
};
