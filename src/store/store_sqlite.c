/* SPDX-License-Identifier: MIT */
/*
 * SQLite plumbing behind store.h: opening connections with the pragmas the
 * design requires (WAL, synchronous, busy timeout, foreign keys), the
 * statement cache, the writer lock and the reader pool.  No table
 * knowledge here: see store_schema.c and the store_<area>.c files.
 */
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/text.h"

/* How long a reader waits for a lock held by another process (in WAL mode
 * readers wait only in rare recovery cases) before giving up with -EBUSY. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* How long a write waits for the writer (the in-process lock, then
 * SQLite's write lock, which another process may hold) before it gives up
 * with -EBUSY; and the much shorter wait while writes are known to be
 * failing, so that requests queued behind a stuck lock are answered at
 * once instead of each holding a worker thread for the full wait. */
#define STORE_WRITE_WAIT_MS   1500
#define STORE_STALLED_WAIT_MS 50

void store_now(char out[21])
{
        time_format_rfc3339(time(NULL), out);
}

int store_errno(struct store_conn *c, int rc, const char *what)
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
                log_error("database: %s failed: %s", what,
                          c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
                return -EACCES;
        default:
                log_error("database: %s failed: %s", what,
                          c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
                return -EIO;
        }
}

int store_exec(struct store_conn *c, const char *sql)
{
        int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : store_errno(c, rc, "exec");
}

int store_exec_cached(struct store_conn *c, const char *sql)
{
        sqlite3_stmt *st = store_stmt(c, sql);
        int rc;

        if (!st)
                return -EIO;
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store_errno(c, rc, "exec");
}

sqlite3_stmt *store_stmt(struct store_conn *c, const char *sql)
{
        size_t h = ((uintptr_t)sql >> 3) % STORE_STMT_CACHE;
        sqlite3_stmt *st = NULL;

        for (size_t i = 0; i < STORE_STMT_CACHE; i++) {
                size_t k = (h + i) % STORE_STMT_CACHE;
                if (c->keys[k] == sql)
                        return c->stmts[k];
                if (c->keys[k])
                        continue;
                int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
                if (rc != SQLITE_OK) {
                        log_error("database: cannot prepare statement: %s", sqlite3_errmsg(c->db));
                        return NULL;
                }
                c->keys[k] = sql;
                c->stmts[k] = st;
                return st;
        }
        /* Cache full: a programming error (raise STORE_STMT_CACHE). */
        log_error("database: statement cache full");
        return NULL;
}

void store_stmt_done(sqlite3_stmt *st)
{
        if (!st)
                return;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
}

int store_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
        int rc = v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, idx);
        return rc == SQLITE_OK ? 0 : -EIO;
}

int store_bind_int64(sqlite3_stmt *st, int idx, int64_t v)
{
        return sqlite3_bind_int64(st, idx, v) == SQLITE_OK ? 0 : -EIO;
}

int store_bind_texts(sqlite3_stmt *st, const char *const *args, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (store_bind_text(st, (int)i + 1, args[i]) < 0)
                        return -EIO;
        return 0;
}

const char *store_column_text(sqlite3_stmt *st, int col)
{
        const char *t = (const char *)sqlite3_column_text(st, col);
        return t ? t : "";
}

char *store_column_strdup(sqlite3_stmt *st, int col)
{
        return strdup(store_column_text(st, col));
}

int store_run(struct store_conn *c, const char *sql, const char *what, const char *const *args,
              size_t n)
{
        _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql);
        int rc;

        if (!st || store_bind_texts(st, args, n) < 0)
                return -EIO;
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return store_errno(c, rc, what);
        return sqlite3_changes(c->db);
}

int store_write_one(struct store *s, const char *sql, const char *what, const char *const *args,
                    size_t n)
{
        struct store_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = store_run(c, sql, what, args, n);
        return store_write_end(s, c, r, true);
}

int store_row_string(sqlite3_stmt *st, void *ret)
{
        char *v = store_column_strdup(st, 0);

        if (!v)
                return -ENOMEM;
        *(char **)ret = v;
        return 0;
}

int store_row_int64(sqlite3_stmt *st, void *ret)
{
        *(int64_t *)ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_query_one(struct store_conn *c, const char *sql, const char *what, store_row_fn read,
                    void *ret, const char *const *args, size_t n)
{
        _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql);
        int rc;

        if (!st || store_bind_texts(st, args, n) < 0)
                return -EIO;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return read(st, ret);
        return rc == SQLITE_DONE ? -ENOENT : store_errno(c, rc, what);
}

int store_read_one(struct store *s, const char *sql, const char *what, store_row_fn read, void *ret,
                   const char *const *args, size_t n)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = store_query_one(c, sql, what, read, ret, args, n);
        store_read_end(s, c);
        return r;
}

static void conn_close(struct store_conn *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < STORE_STMT_CACHE; i++)
                if (c->stmts[i])
                        sqlite3_finalize(c->stmts[i]);
        if (c->db)
                sqlite3_close_v2(c->db);
        memset(c, 0, sizeof(*c));
}

/* Page cache per connection, in KiB (SQLite's default is 2 000 KiB each).
 * The cache is anonymous memory that stays once filled; the kernel's page
 * cache holds the file anyway, so readers keep a small one and the writer,
 * which re-reads the indexes it updates, a larger one. */
#define STORE_WRITER_CACHE_KIB 2048
#define STORE_READER_CACHE_KIB 512

static int conn_open(struct store_conn *c, const char *path, bool writer, bool sync_full)
{
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
        char pragmas[256];
        int rc;

        memset(c, 0, sizeof(*c));
        if (writer)
                flags |= SQLITE_OPEN_CREATE;
        rc = sqlite3_open_v2(path, &c->db, flags, NULL);
        if (rc != SQLITE_OK) {
                int r = c->db ? store_errno(c, rc, "open") : -ENOMEM;
                conn_close(c);
                return r < 0 ? r : -EIO;
        }
        sqlite3_extended_result_codes(c->db, 1);
        sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
        snprintf(pragmas, sizeof(pragmas),
                 "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;"
                 " PRAGMA cache_size=-%d;%s",
                 sync_full ? "FULL" : "NORMAL",
                 writer ? STORE_WRITER_CACHE_KIB : STORE_READER_CACHE_KIB,
                 writer ? "" : " PRAGMA query_only=1;");
        rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                int r = store_errno(c, rc, "configure connection");
                conn_close(c);
                return r;
        }
        return 0;
}

/* For no_migrate: the schema must be exactly this build's. */
static int check_version(struct store_conn *c)
{
        sqlite3_stmt *st = NULL;
        int rc, version = -1;

        rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version < 0)
                return store_errno(c, rc, "read the schema version");
        if (version > STORE_SCHEMA_VERSION)
                return -EPROTONOSUPPORT;
        return version < STORE_SCHEMA_VERSION ? -ESTALE : 0;
}

int store_open(const char *path, const struct store_options *opts, struct store **ret,
               unsigned *ret_migrated)
{
        struct store *s;
        char *mode = NULL;
        unsigned migrated = 0;
        int r, rc;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->writer_lock, NULL);
        pthread_mutex_init(&s->push_lock, NULL);
        pthread_cond_init(&s->push_done, NULL);
        pthread_condattr_t monotonic;
        pthread_condattr_init(&monotonic);
        pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
        pthread_cond_init(&s->push_arrived, &monotonic);
        pthread_condattr_destroy(&monotonic);
        pthread_mutex_init(&s->readers_lock, NULL);
        pthread_cond_init(&s->readers_cond, NULL);
        s->path = strdup(path);
        s->writer = calloc(1, sizeof(*s->writer));
        s->n_readers = opts->readers ? opts->readers : 4;
        s->readers = calloc(s->n_readers, sizeof(*s->readers));
        if (!s->path || !s->writer || !s->readers) {
                r = -ENOMEM;
                goto fail;
        }

        r = conn_open(s->writer, path, true, opts->synchronous_full);
        if (r < 0)
                goto fail;

        /* WAL must be on before any reader opens.  It is persistent. */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->writer->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                mode = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (!mode || strcmp(mode, "wal") != 0) {
                free(mode);
                log_error("database: cannot switch to WAL journal mode");
                r = -EIO;
                goto fail;
        }
        free(mode);

        if (opts->no_migrate)
                r = check_version(s->writer);
        else
                r = store_migrate(s->writer, &migrated);
        if (r < 0)
                goto fail;

        for (unsigned i = 0; i < s->n_readers; i++) {
                r = conn_open(&s->readers[i], path, false, opts->synchronous_full);
                if (r < 0)
                        goto fail;
                s->readers[i].next_free = s->free_readers;
                s->free_readers = &s->readers[i];
        }

        if (ret_migrated)
                *ret_migrated = migrated;
        *ret = s;
        return 0;
fail:
        store_close(s);
        return r;
}

int store_checkpoint(struct store *s)
{
        int rc;

        pthread_mutex_lock(&s->writer_lock);
        rc = sqlite3_wal_checkpoint_v2(s->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        pthread_mutex_unlock(&s->writer_lock);
        return rc == SQLITE_OK ? 0 : store_errno(s->writer, rc, "checkpoint");
}

void store_close(struct store *s)
{
        if (!s)
                return;
        for (unsigned i = 0; s->readers && i < s->n_readers; i++)
                conn_close(&s->readers[i]);
        if (s->writer && s->writer->db) {
                (void)sqlite3_wal_checkpoint_v2(s->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                                NULL, NULL);
                conn_close(s->writer);
        }
        free(s->readers);
        free(s->writer);
        free(s->path);
        pthread_mutex_destroy(&s->writer_lock);
        pthread_mutex_destroy(&s->push_lock);
        pthread_cond_destroy(&s->push_done);
        pthread_cond_destroy(&s->push_arrived);
        pthread_mutex_destroy(&s->readers_lock);
        pthread_cond_destroy(&s->readers_cond);
        free(s);
}

/* Transaction control run on every request, through the statement cache. */
static const char sql_begin[] = "BEGIN";
static const char sql_begin_immediate[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
/* ThreadSanitizer (the CI's race pass) does not intercept
 * pthread_mutex_clocklock(): without these annotations it would miss the
 * acquisition and report the unlock as one of a lock never taken. */
#if defined(__SANITIZE_THREAD__)
#define STORE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STORE_TSAN 1
#endif
#endif
#ifdef STORE_TSAN
#include <sanitizer/tsan_interface.h>
static void tsan_pre_trylock(void *m)
{
        __tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
}
static void tsan_post_trylock(void *m, bool locked)
{
        __tsan_mutex_post_lock(
                m, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
}
#else
static void tsan_pre_trylock(void *m)
{
        (void)m;
}
static void tsan_post_trylock(void *m, bool locked)
{
        (void)m;
        (void)locked;
}
#endif

/* Take the writer within wait_ms: the in-process lock, then SQLite's write
 * lock (BEGIN IMMEDIATE) with the time left.  Records whether the writer
 * works in s->write_stalled.  0 with the lock held, or -EBUSY. */
static int write_lock(struct store *s, unsigned wait_ms)
{
        uint64_t deadline_usec = clock_now_usec() + (uint64_t)wait_ms * 1000u;
        struct timespec deadline = clock_after_usec((uint64_t)wait_ms * 1000u);
        uint64_t now;
        int r;

        tsan_pre_trylock(&s->writer_lock);
        r = pthread_mutex_clocklock(&s->writer_lock, CLOCK_MONOTONIC, &deadline);
        tsan_post_trylock(&s->writer_lock, r == 0);
        if (r != 0)
                return r == ETIMEDOUT ? -EBUSY : -r;
        now = clock_now_usec();
        sqlite3_busy_timeout(s->writer->db,
                             now < deadline_usec ? (int)((deadline_usec - now) / 1000u) : 0);
        r = store_exec_cached(s->writer, sql_begin_immediate);
        if (r < 0) {
                if (!sqlite3_get_autocommit(s->writer->db))
                        (void)sqlite3_exec(s->writer->db, "ROLLBACK", NULL, NULL, NULL);
                if (r == -EBUSY)
                        atomic_store(&s->write_stalled, true);
                pthread_mutex_unlock(&s->writer_lock);
                return r;
        }
        atomic_store(&s->write_stalled, false);
        return 0;
}

int store_write_begin(struct store *s, struct store_conn **ret)
{
        int r = write_lock(s, atomic_load(&s->write_stalled) ? STORE_STALLED_WAIT_MS
                                                             : STORE_WRITE_WAIT_MS);
        if (r < 0)
                return r;
        *ret = s->writer;
        return 0;
}

int store_write_end(struct store *s, struct store_conn *c, int r, bool commit)
{
        if (r >= 0 && commit) {
                int q = store_exec_cached(c, sql_commit);
                if (q < 0) {
                        (void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
                        r = q;
                }
        } else
                (void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->writer_lock);
        return r;
}

int store_read_begin(struct store *s, struct store_conn **ret)
{
        struct store_conn *c;
        int r;

        pthread_mutex_lock(&s->readers_lock);
        while (!s->free_readers)
                pthread_cond_wait(&s->readers_cond, &s->readers_lock);
        c = s->free_readers;
        s->free_readers = c->next_free;
        pthread_mutex_unlock(&s->readers_lock);

        r = store_exec_cached(c, sql_begin);
        if (r < 0) {
                store_read_end(s, c);
                return r;
        }
        *ret = c;
        return 0;
}

void store_read_end(struct store *s, struct store_conn *c)
{
        if (!sqlite3_get_autocommit(c->db))
                (void)store_exec_cached(c, sql_commit);
        pthread_mutex_lock(&s->readers_lock);
        c->next_free = s->free_readers;
        s->free_readers = c;
        pthread_cond_signal(&s->readers_cond);
        pthread_mutex_unlock(&s->readers_lock);
}

int store_probe(struct store *s)
{
        static const char sql[] = "SELECT count(*) FROM sqlite_master";
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        sqlite3_stmt *st = store_stmt(c, sql);
        if (!st)
                r = -EIO;
        else {
                int rc = sqlite3_step(st);
                r = rc == SQLITE_ROW ? 0 : store_errno(c, rc, "probe");
                store_stmt_done(st);
        }
        store_read_end(s, c);
        return r;
}

int store_probe_write(struct store *s, unsigned timeout_ms)
{
        int r = write_lock(s, timeout_ms);

        if (r < 0)
                return r;
        return store_write_end(s, s->writer, 0, false);
}

bool store_write_stalled(struct store *s)
{
        return atomic_load(&s->write_stalled);
}

int store_schema_version(struct store *s)
{
        static const char sql[] = "PRAGMA user_version";
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        sqlite3_stmt *st = store_stmt(c, sql);
        if (!st)
                r = -EIO;
        else {
                r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
                store_stmt_done(st);
        }
        store_read_end(s, c);
        return r;
}
