/* SPDX-License-Identifier: MIT */
/*
 * The back-end-neutral core behind store.h: opening a store on the back end
 * its target names, the writer lock with its bounded wait, the reader pool
 * and the helpers of store_internal.h.  No SQL dialect and no driver API
 * here: see db.h and the back ends (src/store/sqlite/).
 */
#include "store/store_internal.h"

#include "store/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/text.h"

/* How long a write waits for the writer (the in-process lock, then the
 * database's write lock, which another process may hold) before it gives
 * up with -EBUSY; and the much shorter wait while writes are known to be
 * failing, so that requests queued behind a stuck lock are answered at
 * once instead of each holding a worker thread for the full wait. */
#define STORE_WRITE_WAIT_MS   1500
#define STORE_STALLED_WAIT_MS 50

void store_now(char out[21])
{
        time_format_rfc3339(time(NULL), out);
}

int store_run(struct db_conn *c, const struct db_sql *q, const char *what, const char *const *args,
              size_t n)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, q);
        int r;

        if (!st || db_bind_texts(st, args, n) < 0)
                return -EIO;
        r = db_step(st);
        if (r < 0)
                return db_fail(c, r, what);
        if (r != DB_DONE)
                return db_fail(c, -EIO, what);
        return (int)db_changes(st);
}

int store_write_one(struct store *s, const struct db_sql *q, const char *what,
                    const char *const *args, size_t n)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = store_run(c, q, what, args, n);
        return store_write_end(s, c, r, true);
}

int store_row_string(struct db_stmt *st, void *ret)
{
        char *v = db_column_strdup(st, 0);

        if (!v)
                return -ENOMEM;
        *(char **)ret = v;
        return 0;
}

int store_row_int64(struct db_stmt *st, void *ret)
{
        *(int64_t *)ret = db_column_int64(st, 0);
        return 0;
}

int store_query_one(struct db_conn *c, const struct db_sql *q, const char *what, store_row_fn read,
                    void *ret, const char *const *args, size_t n)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, q);
        int r;

        if (!st || db_bind_texts(st, args, n) < 0)
                return -EIO;
        r = db_step(st);
        if (r == DB_ROW)
                return read(st, ret);
        return r == DB_DONE ? -ENOENT : db_fail(c, r, what);
}

int store_read_one(struct store *s, const struct db_sql *q, const char *what, store_row_fn read,
                   void *ret, const char *const *args, size_t n)
{
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = store_query_one(c, q, what, read, ret, args, n);
        store_read_end(s, c);
        return r;
}

/* Tables of any kind in the database (its current schema on PostgreSQL). */
static const struct db_sql sql_count_tables = {
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        .pg = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"};

/* -ENOTEMPTY when the database behind c holds a table already. */
static int check_empty(struct db_conn *c)
{
        int64_t n = 0;
        int r = store_query_one(c, &sql_count_tables, "count the tables", store_row_int64, &n, NULL,
                                0);

        if (r < 0)
                return r;
        return n > 0 ? -ENOTEMPTY : 0;
}

static const struct store_backend *backend_for(const char *target)
{
        return pg_is_url(target) ? &store_backend_pg : &store_backend_sqlite;
}

int store_open(const char *target, const struct store_options *opts, struct store **ret,
               unsigned *ret_migrated)
{
        struct store *s;
        unsigned migrated = 0;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->writer_lock, NULL);
        pthread_mutex_init(&s->push_lock, NULL);
        pthread_condattr_t monotonic;
        pthread_condattr_init(&monotonic);
        pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
        pthread_cond_init(&s->push_arrived, &monotonic);
        pthread_condattr_destroy(&monotonic);
        pthread_mutex_init(&s->readers_lock, NULL);
        pthread_cond_init(&s->readers_cond, NULL);
        s->be = backend_for(target);
        s->target = strdup(target);
        s->n_readers = opts->readers ? opts->readers : 4;
        s->readers = calloc(s->n_readers, sizeof(*s->readers));
        if (!s->target || !s->readers) {
                r = -ENOMEM;
                goto fail;
        }

        r = s->be->connect(s, true, opts->synchronous_full, &s->writer);
        if (r < 0)
                goto fail;
        if (opts->require_empty) {
                r = check_empty(s->writer);
                if (r < 0)
                        goto fail;
        }
        r = s->be->setup(s, opts, &migrated);
        if (r < 0)
                goto fail;

        /* One reader now, so that a reader that cannot open fails the
         * start; the others as the load needs them (or now, when asked). */
        s->synchronous_full = opts->synchronous_full;
        for (unsigned i = 0; i < (opts->readers_now ? s->n_readers : 1); i++) {
                r = s->be->connect(s, false, s->synchronous_full, &s->readers[i]);
                if (r < 0)
                        goto fail;
                s->n_open = s->n_stored = i + 1;
                s->readers[i]->next_free = s->free_readers;
                s->free_readers = s->readers[i];
        }

        if (ret_migrated)
                *ret_migrated = migrated;
        *ret = s;
        return 0;
fail:
        store_close(s);
        return r;
}

void store_writer_take(struct store *s, struct db_conn **ret)
{
        pthread_mutex_lock(&s->writer_lock);
        *ret = s->writer;
}

void store_writer_release(struct store *s)
{
        pthread_mutex_unlock(&s->writer_lock);
}

int store_checkpoint(struct store *s)
{
        struct db_conn *c;
        int r;

        store_writer_take(s, &c);
        r = s->be->checkpoint(c);
        store_writer_release(s);
        return r;
}

void store_release_memory(struct store *s)
{
        if (!s->be->release_memory)
                return;
        pthread_mutex_lock(&s->readers_lock);
        for (struct db_conn *c = s->free_readers; c; c = c->next_free)
                s->be->release_memory(c);
        pthread_mutex_unlock(&s->readers_lock);
        if (pthread_mutex_trylock(&s->writer_lock) == 0) {
                s->be->release_memory(s->writer);
                pthread_mutex_unlock(&s->writer_lock);
        }
}

int store_scrub(struct store *s)
{
        struct db_conn *c;
        int r;

        store_writer_take(s, &c);
        r = s->be->scrub(c);
        store_writer_release(s);
        return r;
}

void store_close(struct store *s)
{
        if (!s)
                return;
        store_push_writer_stop(s);
        for (unsigned i = 0; s->readers && i < s->n_stored; i++)
                db_close(s->readers[i]);
        if (s->writer) {
                (void)s->be->checkpoint(s->writer);
                db_close(s->writer);
        }
        free(s->readers);
        free(s->target);
        pthread_mutex_destroy(&s->writer_lock);
        pthread_mutex_destroy(&s->push_lock);
        pthread_cond_destroy(&s->push_arrived);
        pthread_mutex_destroy(&s->readers_lock);
        pthread_cond_destroy(&s->readers_cond);
        free(s);
}

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

/* Take the writer within wait_ms: the in-process lock, then the database's
 * write lock with the time left (SQLite; a PostgreSQL transaction waits
 * for its locks statement by statement, within the same time).  A wait
 * that timed out is recorded in s->write_stalled, here or when the
 * transaction ends (store_write_end()).  0 with the lock held, or -EBUSY. */
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
        r = db_begin(s->writer, DB_TXN_WRITE,
                     now < deadline_usec ? (unsigned)((deadline_usec - now) / 1000u) : 0);
        if (r < 0) {
                (void)db_fail(s->writer, r, "begin a write");
                if (r == -EBUSY)
                        atomic_store(&s->write_stalled, true);
                pthread_mutex_unlock(&s->writer_lock);
                return r;
        }
        return 0;
}

int store_write_begin(struct store *s, struct db_conn **ret)
{
        int r = write_lock(s, atomic_load(&s->write_stalled) ? STORE_STALLED_WAIT_MS
                                                             : STORE_WRITE_WAIT_MS);
        if (r < 0)
                return r;
        *ret = s->writer;
        return 0;
}

int store_write_end(struct store *s, struct db_conn *c, int r, bool commit)
{
        if (r >= 0 && commit) {
                int q = db_commit(c);
                if (q < 0) {
                        db_fail(c, q, "commit");
                        db_rollback(c);
                        r = q;
                }
        } else
                db_rollback(c);
        /* A lock another connection held past the wait (on PostgreSQL met
         * by a statement, not by BEGIN) stalls the writer; a transaction
         * that went through shows it works. */
        if (r == -EBUSY)
                atomic_store(&s->write_stalled, true);
        else if (r >= 0)
                atomic_store(&s->write_stalled, false);
        pthread_mutex_unlock(&s->writer_lock);
        return r;
}

/* Open one more reader for store_reader_take(), which reserved it (n_open)
 * and dropped the lock; called and returning without readers_lock. */
static int reader_open(struct store *s, struct db_conn **ret)
{
        struct db_conn *c = NULL;
        int r = s->be->connect(s, false, s->synchronous_full, &c);

        pthread_mutex_lock(&s->readers_lock);
        if (r < 0) {
                s->n_open--;
                /* A waiter may try in its turn. */
                pthread_cond_signal(&s->readers_cond);
        } else
                s->readers[s->n_stored++] = c;
        pthread_mutex_unlock(&s->readers_lock);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

int store_reader_take(struct store *s, struct db_conn **ret)
{
        struct db_conn *c;

        pthread_mutex_lock(&s->readers_lock);
        while (!s->free_readers) {
                if (s->n_open < s->n_readers) {
                        s->n_open++;
                        pthread_mutex_unlock(&s->readers_lock);
                        return reader_open(s, ret);
                }
                pthread_cond_wait(&s->readers_cond, &s->readers_lock);
        }
        c = s->free_readers;
        s->free_readers = c->next_free;
        pthread_mutex_unlock(&s->readers_lock);
        *ret = c;
        return 0;
}

int store_read_begin(struct store *s, struct db_conn **ret)
{
        struct db_conn *c;
        int r;

        r = store_reader_take(s, &c);
        if (r < 0)
                return r;
        r = db_begin(c, DB_TXN_READ, 0);
        if (r < 0) {
                (void)db_fail(c, r, "begin a read");
                store_read_end(s, c);
                return r;
        }
        *ret = c;
        return 0;
}

void store_read_end(struct store *s, struct db_conn *c)
{
        if (db_in_transaction(c))
                (void)db_commit(c);
        pthread_mutex_lock(&s->readers_lock);
        c->next_free = s->free_readers;
        s->free_readers = c;
        pthread_cond_signal(&s->readers_cond);
        pthread_mutex_unlock(&s->readers_lock);
}

int store_probe(struct store *s)
{
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, s->be->probe);
                if (!st)
                        r = -EIO;
                else {
                        r = db_step(st);
                        r = r == DB_ROW ? 0 : db_fail(c, r == DB_DONE ? -EIO : r, "probe");
                }
        }
        store_read_end(s, c);
        return r;
}

/* What the write probe takes besides the write transaction: nothing more
 * on SQLite, whose writer holds the database's write lock already; on
 * PostgreSQL the high-water row every push locks (store_ops.c), so a
 * lock held elsewhere is seen as it is on SQLite. */
static const struct db_sql sql_probe_write = {
        "SELECT 1", .pg = "SELECT value FROM server_meta WHERE key = 'last_sequence' FOR UPDATE"};

int store_probe_write(struct store *s, unsigned timeout_ms)
{
        int r = write_lock(s, timeout_ms);

        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(s->writer, &sql_probe_write);
                int rc = st ? db_step(st) : -EIO;
                r = rc == DB_ROW ? 0 : rc == DB_DONE ? -EIO : rc;
        }
        return store_write_end(s, s->writer, r, false);
}

bool store_write_stalled(struct store *s)
{
        return atomic_load(&s->write_stalled);
}

int store_schema_version(struct store *s)
{
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = s->be->schema_version(c);
        store_read_end(s, c);
        return r;
}
