/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of blob/blob_store.c, api/blob_gc.c and store/store_blobs.c on
 * a real data directory (a temporary blob directory and SQLite database):
 * uploads, commit and deduplication, claims, reading with the size check,
 * the scan, temp file expiry, references with quotas, usage, orphans and
 * garbage collection — including collection racing uploads of the same
 * content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "store/store_blobs.h"
#include "util/text.h"

struct fixture {
        char root[PATH_MAX];
        char blobs[PATH_MAX + 16];
        char db[PATH_MAX + 16];
        struct store *store;
        struct blob_store *bs;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct store_options so = {.synchronous_full = false, .readers = 4};
        const char *tmp = getenv("TMPDIR");

        snprintf(f->root, sizeof(f->root), "%s/blobtest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(f->root));
        snprintf(f->blobs, sizeof(f->blobs), "%s/blobs", f->root);
        snprintf(f->db, sizeof(f->db), "%s/server.db", f->root);
        assert_int_equal(mkdir(f->blobs, 0750), 0);
        assert_int_equal(store_open(f->db, &so, &f->store, NULL), 0);
        assert_int_equal(blob_store_new(f->blobs, &f->bs), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[PATH_MAX + 16];

        blob_store_free(f->bs);
        store_close(f->store);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static void sha_of(const void *data, size_t len, char out[65])
{
        unsigned char d[32];
        crypto_hash_sha256(d, data, len);
        hex_encode(d, sizeof(d), out);
}

/* Upload data (in pieces of step bytes) and commit it; returns the upload
 * still holding its claim. */
static struct blob_upload *upload(struct fixture *f, const void *data, size_t len, size_t step,
                                  char sha[65])
{
        struct blob_upload *u;
        const char *p = data;

        assert_int_equal(blob_upload_new(f->bs, 16 << 20, &u), 0);
        for (size_t off = 0; off < len; off += step)
                assert_int_equal(blob_upload_write(u, p + off, off + step > len ? len - off : step),
                                 0);
        assert_int_equal(blob_upload_size(u), len);
        assert_int_equal(blob_upload_finish(u, sha), 0);
        assert_int_equal(blob_upload_commit(u), 0);
        return u;
}

/* Number of ".upload-*" files in the blob directory. */
static int count_temp(struct fixture *f)
{
        DIR *d = opendir(f->blobs);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += strncmp(de->d_name, BLOB_TEMP_PREFIX, strlen(BLOB_TEMP_PREFIX)) == 0;
        closedir(d);
        return n;
}

static int unused_yes(void *ud, const char *sha)
{
        (void)sha;
        if (ud)
                (*(int *)ud)++;
        return 1;
}

static int unused_no(void *ud, const char *sha)
{
        (void)ud;
        (void)sha;
        return 0;
}

static void test_upload_commit_read(void **state)
{
        struct fixture *f = *state;
        char data[300000], sha[65], want[65], path[PATH_MAX + 200];
        struct stat st;
        int fd;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (char)(i * 7 + i / 300);
        sha_of(data, sizeof(data), want);
        struct blob_upload *u = upload(f, data, sizeof(data), 777, sha);
        assert_string_equal(sha, want);
        assert_int_equal(count_temp(f), 0);
        snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", f->blobs, sha, sha + 2, sha);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, sizeof(data));
        blob_upload_free(u); /* committed: the file stays */
        assert_int_equal(stat(path, &st), 0);

        assert_int_equal(blob_store_open_blob(f->bs, sha, sizeof(data), &fd), 0);
        char back[sizeof(data)];
        assert_int_equal(read(fd, back, sizeof(back)), sizeof(back));
        assert_memory_equal(back, data, sizeof(data));
        close(fd);
        assert_int_equal(blob_store_open_blob(f->bs, sha, sizeof(data) - 1, &fd), -EUCLEAN);
        assert_int_equal(blob_store_open_blob(f->bs, "00", 1, &fd), -EINVAL);
        want[0] = want[0] == 'a' ? 'b' : 'a';
        assert_int_equal(blob_store_open_blob(f->bs, want, 1, &fd), -ENOENT);
        assert_int_equal(blob_store_exists(f->bs, sha), 1);
        assert_int_equal(blob_store_exists(f->bs, want), 0);

        /* The empty blob. */
        u = upload(f, "", 0, 1, sha);
        assert_string_equal(sha,
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        blob_upload_free(u);
        assert_int_equal(blob_store_open_blob(f->bs, sha, 0, &fd), 0);
        close(fd);
}

static void test_upload_limit_and_abandon(void **state)
{
        struct fixture *f = *state;
        struct blob_upload *u;
        char buf[100] = {0}, sha[65];

        assert_int_equal(blob_upload_new(f->bs, 250, &u), 0);
        assert_int_equal(count_temp(f), 1);
        assert_int_equal(blob_upload_write(u, buf, 100), 0);
        assert_int_equal(blob_upload_write(u, buf, 100), 0);
        assert_int_equal(blob_upload_write(u, buf, 51), -EFBIG);
        assert_int_equal(blob_upload_write(u, buf, 50), 0); /* exactly at the limit */
        assert_int_equal(blob_upload_write(u, buf, 1), -EFBIG);
        assert_int_equal(blob_upload_size(u), 250);
        blob_upload_free(u);
        assert_int_equal(count_temp(f), 0);

        /* Finished but never committed: nothing stays either. */
        assert_int_equal(blob_upload_new(f->bs, 250, &u), 0);
        assert_int_equal(blob_upload_write(u, "abc", 3), 0);
        assert_int_equal(blob_upload_finish(u, sha), 0);
        blob_upload_free(u);
        assert_int_equal(count_temp(f), 0);
        assert_int_equal(blob_store_exists(f->bs, sha), 0);
}

static void test_claims_and_discard(void **state)
{
        struct fixture *f = *state;
        char sha[65], sha2[65];
        int calls = 0;

        /* Two uploads of the same content: one file, kept while either
         * claims it. */
        struct blob_upload *a = upload(f, "same content", 12, 5, sha);
        struct blob_upload *b = upload(f, "same content", 12, 12, sha2);
        assert_string_equal(sha, sha2);
        assert_int_equal(blob_store_remove_unused(f->bs, sha, unused_yes, &calls), 0);
        assert_int_equal(calls, 0); /* claimed: not even asked */
        assert_int_equal(blob_upload_discard(a, unused_yes, &calls), 0);
        assert_int_equal(blob_store_exists(f->bs, sha), 1);
        assert_int_equal(blob_upload_discard(b, unused_no, NULL), 0); /* still needed */
        assert_int_equal(blob_store_exists(f->bs, sha), 1);
        blob_upload_free(a);
        blob_upload_free(b);
        assert_int_equal(blob_store_remove_unused(f->bs, sha, unused_yes, &calls), 1);
        assert_int_equal(calls, 1);
        assert_int_equal(blob_store_exists(f->bs, sha), 0);
        assert_int_equal(blob_store_remove_unused(f->bs, sha, unused_yes, NULL), 0);

        /* The last claim's discard removes an unused file. */
        a = upload(f, "other", 5, 5, sha);
        assert_int_equal(blob_upload_discard(a, unused_yes, NULL), 1);
        assert_int_equal(blob_store_exists(f->bs, sha), 0);
        blob_upload_free(a);
        assert_int_equal(count_temp(f), 0);
}

static int collect(void *ud, const char *sha, uint64_t size)
{
        char *seen = ud;
        (void)size;
        strcat(seen, sha);
        strcat(seen, ";");
        return 0;
}

static void test_scan_ignores_strangers(void **state)
{
        struct fixture *f = *state;
        char sha[65], path[PATH_MAX + 200], seen[1024] = "";

        blob_upload_free(upload(f, "scan me", 7, 7, sha));
        /* Names that are not blobs at their address. */
        snprintf(path, sizeof(path), "%s/%.2s/%.2s/not-a-hash", f->blobs, sha, sha + 2);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", f->blobs, sha, sha + 2,
                 "0000000000000000000000000000000000000000000000000000000000000000");
        close(open(path, O_CREAT | O_WRONLY, 0600));
        snprintf(path, sizeof(path), "%s/zz", f->blobs);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/.health-1", f->blobs);
        close(open(path, O_CREAT | O_WRONLY, 0600));

        assert_int_equal(blob_store_scan(f->bs, collect, seen), 0);
        char want[80];
        snprintf(want, sizeof(want), "%s;", sha);
        assert_string_equal(seen, want);
}

static void test_expire_temp(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX + 64];
        struct timespec old[2] = {{.tv_sec = time(NULL) - 30 * 3600},
                                  {.tv_sec = time(NULL) - 30 * 3600}};
        struct timespec fresh[2] = {{.tv_sec = time(NULL)}, {.tv_sec = time(NULL)}};
        struct blob_upload *active;
        DIR *d;
        struct dirent *de;

        /* An upload in progress, made to look old. */
        assert_int_equal(blob_upload_new(f->bs, 100, &active), 0);
        d = opendir(f->blobs);
        while ((de = readdir(d)))
                if (strncmp(de->d_name, BLOB_TEMP_PREFIX, 8) == 0)
                        assert_int_equal(utimensat(dirfd(d), de->d_name, old, 0), 0);
        closedir(d);

        snprintf(path, sizeof(path), "%s/.upload-stale", f->blobs);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
        snprintf(path, sizeof(path), "%s/.upload-fresh", f->blobs);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        /* Dated by this process's clock, not the file system's, so that
         * the test holds with the clock moved (faketime). */
        assert_int_equal(utimensat(AT_FDCWD, path, fresh, 0), 0);
        assert_int_equal(count_temp(f), 3);

        assert_int_equal(blob_store_expire_temp(f->bs, time(NULL) - 24 * 3600), 1);
        assert_int_equal(count_temp(f), 2);
        assert_int_equal(access(path, F_OK), 0); /* the fresh one stays */
        blob_upload_free(active);
        assert_int_equal(count_temp(f), 1);
        unlink(path);
}

static void test_refs_and_quotas(void **state)
{
        struct fixture *f = *state;
        const struct store_scope a = {"user1", "va"}, b = {"user1", "vb"}, c = {"user2", "va"};
        const struct store_blob_quota q = {.max_vault_bytes = 100, .max_user_bytes = 150};
        char s1[65], s2[65], s3[65], s4[65];
        struct store_blob_usage use;
        int64_t size;
        time_t last;

        sha_of("1", 1, s1);
        sha_of("2", 1, s2);
        sha_of("3", 1, s3);
        sha_of("4", 1, s4);
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, s1, 60, &q), 1);
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, s2, 40, &q), 1); /* vault at 100 */
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, s3, 1, &q), -EDQUOT);
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, s1, 60, &q),
                         0); /* no-op at quota */
        assert_int_equal(store_blob_ref_add(f->store, &b, NULL, s3, 50, &q), 1); /* user at 150 */
        assert_int_equal(store_blob_ref_add(f->store, &b, NULL, s4, 1, &q), -EDQUOT);
        assert_int_equal(store_blob_ref_add(f->store, &c, NULL, s1, 60, &q), 1); /* other user */

        assert_int_equal(store_blob_usage_scope(f->store, &a, &use), 0);
        assert_int_equal(use.bytes, 100);
        assert_int_equal(use.blobs, 2);
        assert_int_equal(store_blob_usage_user(f->store, "user1", &use), 0);
        assert_int_equal(use.bytes, 150);
        assert_int_equal(use.blobs, 3);
        assert_int_equal(store_blob_usage_user(f->store, "nobody", &use), 0);
        assert_int_equal(use.bytes, 0);

        assert_int_equal(store_blob_ref_size(f->store, &a, s1, &size), 0);
        assert_int_equal(size, 60);
        assert_int_equal(store_blob_ref_size(f->store, &b, s1, &size), -ENOENT);
        assert_int_equal(store_blob_ref_get(f->store, &c, s1, &size, &last), 0);
        assert_true(last > time(NULL) - 60);
        assert_int_equal(store_blob_ref_touch(f->store, &c, s1), 0);
        assert_int_equal(store_blob_ref_touch(f->store, &c, s2), -ENOENT);
        assert_int_equal(store_blob_is_referenced(f->store, s1), 1);
        assert_int_equal(store_blob_is_referenced(f->store, s4), 0);

        bool row = true;
        assert_int_equal(store_blob_forget_unreferenced(f->store, s1, &row), 0);
        assert_int_equal(store_blob_forget_unreferenced(f->store, s4, &row), 1);
        assert_false(row);
}

static void exec_sql(struct fixture *f, const char *sql)
{
        sqlite3 *h;
        assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
        sqlite3_busy_timeout(h, 5000);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
}

static void test_gc(void **state)
{
        struct fixture *f = *state;
        const struct store_scope a = {"user1", "va"};
        const struct store_blob_quota q = {UINT64_MAX / 2, UINT64_MAX / 2};
        char kept[65], orphan[65], busy[65], sql[512];
        struct blob_orphans o;
        struct blob_gc_result res;

        /* Referenced: stays. */
        struct blob_upload *u = upload(f, "referenced", 10, 10, kept);
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, kept, 10, &q), 1);
        blob_upload_free(u);
        /* An orphan file with a server_blobs row (as a crash would leave). */
        blob_upload_free(upload(f, "orphan!", 7, 7, orphan));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_blobs (sha256, size, created_at) VALUES ('%s', 7, 'x');"
                 "INSERT INTO server_blobs (sha256, size, created_at) VALUES ('%s', 3, 'x');",
                 orphan, "1111111111111111111111111111111111111111111111111111111111111111");
        exec_sql(f, sql);
        /* Being uploaded right now: committed, reference not yet recorded. */
        struct blob_upload *inflight = upload(f, "in flight", 9, 9, busy);

        assert_int_equal(blob_gc_count_orphans(f->store, f->bs, &o), 0);
        assert_int_equal(o.files, 2);
        assert_int_equal(o.bytes, 16);

        assert_int_equal(blob_gc_run(f->store, f->bs, &res), 0);
        assert_int_equal(res.files_removed, 1);
        assert_int_equal(res.bytes_freed, 7);
        assert_int_equal(res.rows_removed, 2);
        assert_int_equal(res.kept, 1);
        assert_int_equal(blob_store_exists(f->bs, kept), 1);
        assert_int_equal(blob_store_exists(f->bs, orphan), 0);
        assert_int_equal(blob_store_exists(f->bs, busy), 1);

        /* The upload completes: referenced, so the next run keeps it. */
        assert_int_equal(store_blob_ref_add(f->store, &a, NULL, busy, 9, &q), 1);
        blob_upload_free(inflight);
        assert_int_equal(blob_gc_run(f->store, f->bs, &res), 0);
        assert_int_equal(res.files_removed, 0);
        assert_int_equal(blob_gc_count_orphans(f->store, f->bs, &o), 0);
        assert_int_equal(o.files, 0);
        assert_int_equal(blob_store_exists(f->bs, busy), 1);
}

/* --- uploads of the same content racing each other and the collector ------- */

#define RACE_THREADS 4
#define RACE_ROUNDS  40

struct race {
        struct fixture *f;
        int id;
        atomic_int *stop;
        int failures;
};

static void *race_uploader(void *arg)
{
        struct race *r = arg;
        const struct store_blob_quota ok = {UINT64_MAX / 2, UINT64_MAX / 2};
        const struct store_blob_quota none = {0, 0};
        char vault[32], sha[65];

        for (int i = 0; i < RACE_ROUNDS; i++) {
                struct blob_upload *u;
                snprintf(vault, sizeof(vault), "v%d-%d", r->id, i);
                const struct store_scope scope = {"racer", vault};
                bool reject = (i + r->id) % 2 == 0;

                if (blob_upload_new(r->f->bs, 1 << 20, &u) < 0 ||
                    blob_upload_write(u, "shared content", 14) < 0 ||
                    blob_upload_finish(u, sha) < 0 || blob_upload_commit(u) < 0) {
                        r->failures++;
                        blob_upload_free(u);
                        continue;
                }
                int q = store_blob_ref_add(r->f->store, &scope, NULL, sha, 14,
                                           reject ? &none : &ok);
                if (q < 0)
                        (void)blob_upload_discard(u, blob_gc_unused, r->f->store);
                else if (blob_store_exists(r->f->bs, sha) != 1)
                        r->failures++; /* referenced but gone */
                blob_upload_free(u);
                if (q >= 0 && blob_store_exists(r->f->bs, sha) != 1)
                        r->failures++;
        }
        return NULL;
}

static void *race_collector(void *arg)
{
        struct race *r = arg;
        while (!*r->stop) {
                struct blob_gc_result res;
                if (blob_gc_run(r->f->store, r->f->bs, &res) < 0)
                        r->failures++;
        }
        return NULL;
}

static void test_gc_races_uploads(void **state)
{
        struct fixture *f = *state;
        pthread_t th[RACE_THREADS + 1];
        struct race rs[RACE_THREADS + 1];
        atomic_int stop = 0;
        char sha[65];

        for (int i = 0; i <= RACE_THREADS; i++) {
                rs[i] = (struct race){.f = f, .id = i, .stop = &stop};
                assert_int_equal(pthread_create(&th[i], NULL,
                                                i == RACE_THREADS ? race_collector : race_uploader,
                                                &rs[i]),
                                 0);
        }
        for (int i = 0; i < RACE_THREADS; i++)
                pthread_join(th[i], NULL);
        stop = 1;
        pthread_join(th[RACE_THREADS], NULL);
        for (int i = 0; i <= RACE_THREADS; i++)
                assert_int_equal(rs[i].failures, 0);

        sha_of("shared content", 14, sha);
        assert_int_equal(store_blob_is_referenced(f->store, sha), 1);
        assert_int_equal(blob_store_exists(f->bs, sha), 1);
        assert_int_equal(count_temp(f), 0);
}

/* Bytes that differ from one buffer of BLOB_WRITE_BUFFER to the next. */
static unsigned char *pattern(size_t len, unsigned seed)
{
        unsigned char *p = malloc(len);

        assert_non_null(p);
        for (size_t i = 0; i < len; i++)
                p[i] = (unsigned char)(i * 131 + i / 4099 + seed * 17);
        return p;
}

static void assert_blob_is(struct fixture *f, const char *sha, const unsigned char *data,
                           size_t len)
{
        unsigned char *back = malloc(len + 1);
        int fd;

        assert_non_null(back);
        assert_int_equal(blob_store_open_blob(f->bs, sha, len, &fd), 0);
        assert_int_equal(pread(fd, back, len + 1, 0), (ssize_t)len);
        assert_memory_equal(back, data, len);
        close(fd);
        free(back);
}

/*
 * An upload of several buffers past BLOB_HELP_AFTER, in pieces that
 * straddle them: written and hashed here, then by the helper threads, in
 * order.  The same content again replaces
 * the stored file by exchanging the names: the old file waits under the
 * temporary name until the second upload is freed (a reader holding it
 * still reads it whole), then it is gone.
 */
static void test_large_upload_replaces(void **state)
{
        struct fixture *f = *state;
        const size_t len = BLOB_HELP_AFTER + 5 * BLOB_WRITE_BUFFER + 4321;
        unsigned char *data = pattern(len, 1), *back = malloc(len);
        char sha[65], want[65], path[PATH_MAX + 200];
        struct stat st, held_st;
        int held;

        assert_non_null(back);
        sha_of(data, len, want);
        struct blob_upload *u = upload(f, data, len, 100003, sha);
        assert_string_equal(sha, want);
        blob_upload_free(u);
        assert_int_equal(count_temp(f), 0);
        assert_blob_is(f, sha, data, len);

        assert_int_equal(blob_store_open_blob(f->bs, sha, len, &held), 0);
        assert_int_equal(fstat(held, &held_st), 0);
        u = upload(f, data, len, BLOB_WRITE_BUFFER, sha);
        assert_string_equal(sha, want);
        assert_int_equal(count_temp(f), 1); /* the replaced file */
        snprintf(path, sizeof(path), "%s/%.2s/%.2s/%s", f->blobs, sha, sha + 2, sha);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_ino != held_st.st_ino);
        blob_upload_free(u);
        assert_int_equal(count_temp(f), 0);
        assert_int_equal(pread(held, back, len, 0), (ssize_t)len);
        assert_memory_equal(back, data, len);
        close(held);
        assert_blob_is(f, sha, data, len);
        free(back);
        free(data);
}

/* A helped upload's ring of BLOB_UPLOAD_SLOTS buffers goes round many
 * times, the caller's pieces straddling its buffers: every byte lands in
 * order and hashes right, and the ring is given back at finish. */
static void test_ring_wraps(void **state)
{
        struct fixture *f = *state;
        const size_t len = BLOB_HELP_AFTER + 5 * BLOB_UPLOAD_SLOTS * BLOB_WRITE_BUFFER + 777;
        unsigned char *data = pattern(len, 5);
        struct blob_upload *u;
        char sha[65], want[65];
        size_t off = 0, step = 1;

        sha_of(data, len, want);
        assert_int_equal(blob_upload_new(f->bs, 64 << 20, &u), 0);
        while (off < len) {
                size_t n = off + step > len ? len - off : step;
                assert_int_equal(blob_upload_write(u, data + off, n), 0);
                off += n;
                step = step * 7 % 300007 + 1; /* 1 byte up to about 300 KB */
        }
        assert_int_equal(blob_store_uploads_helped(f->bs), 1);
        assert_int_equal(blob_upload_finish(u, sha), 0);
        assert_int_equal(blob_store_uploads_helped(f->bs), 0);
        assert_string_equal(sha, want);
        assert_int_equal(blob_upload_commit(u), 0);
        blob_upload_free(u);
        assert_blob_is(f, sha, data, len);
        assert_int_equal(count_temp(f), 0);
        free(data);
}

struct big_upload {
        struct fixture *f;
        unsigned seed;
        unsigned char *data;
        size_t len;
        struct blob_upload *u;
        char sha[65];
        int r;
};

/* Upload b->data in pieces of 9 000 bytes (no assertions: not the test's
 * thread). */
static void *big_uploader(void *arg)
{
        struct big_upload *b = arg;

        b->r = blob_upload_new(b->f->bs, 16 << 20, &b->u);
        for (size_t off = 0; b->r == 0 && off < b->len; off += 9000)
                b->r = blob_upload_write(b->u, b->data + off,
                                         off + 9000 > b->len ? b->len - off : 9000);
        if (b->r == 0)
                b->r = blob_upload_finish(b->u, b->sha);
        if (b->r == 0)
                b->r = blob_upload_commit(b->u);
        return NULL;
}

/* More large uploads at once than there are helpers on a small machine:
 * each one's bytes stay in order and hash right. */
static void test_large_uploads_at_once(void **state)
{
        struct fixture *f = *state;
        struct big_upload b[6];
        pthread_t th[6];
        char want[65];

        for (unsigned i = 0; i < 6; i++) {
                size_t len = BLOB_HELP_AFTER + (1 + i) * BLOB_WRITE_BUFFER + i * 1000;
                b[i] = (struct big_upload){.f = f, .seed = i, .data = pattern(len, i), .len = len};
                assert_int_equal(pthread_create(&th[i], NULL, big_uploader, &b[i]), 0);
        }
        for (unsigned i = 0; i < 6; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(b[i].r, 0);
                sha_of(b[i].data, b[i].len, want);
                assert_string_equal(b[i].sha, want);
                blob_upload_free(b[i].u);
                assert_blob_is(f, want, b[i].data, b[i].len);
                free(b[i].data);
        }
        assert_int_equal(count_temp(f), 0);
        assert_int_equal(blob_store_uploads_helped(f->bs), 0);
}

/* No more uploads are helped (hold a ring) at once than BLOB_HELPED_PER_HELPER
 * per helper (one per CPU, at most 16); the others go on unhelped.  All of
 * them hash right, and every place is given back. */
static void test_helped_uploads_bounded(void **state)
{
        enum { N = 70 };
        struct fixture *f = *state;
        const size_t len = BLOB_HELP_AFTER + BLOB_WRITE_BUFFER;
        unsigned char *data = pattern(len + 1, 3);
        struct blob_upload *u[N];
        char sha[65], want[65];
        cpu_set_t cpus;
        unsigned cap;

        assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
        cap = (unsigned)(CPU_COUNT(&cpus) > 16 ? 16 : CPU_COUNT(&cpus)) * BLOB_HELPED_PER_HELPER;
        assert_true(cap < N);
        for (int i = 0; i < N; i++) {
                assert_int_equal(blob_upload_new(f->bs, 16 << 20, &u[i]), 0);
                assert_int_equal(blob_upload_write(u[i], data, len), 0);
        }
        assert_int_equal(blob_store_uploads_helped(f->bs), cap);
        for (int i = 0; i < N; i++) {
                data[len] = (unsigned char)i;
                assert_int_equal(blob_upload_write(u[i], data + len, 1), 0);
                assert_int_equal(blob_upload_finish(u[i], sha), 0);
                sha_of(data, len + 1, want);
                assert_string_equal(sha, want);
                blob_upload_free(u[i]);
        }
        assert_int_equal(blob_store_uploads_helped(f->bs), 0);
        assert_int_equal(count_temp(f), 0);
        free(data);
}

/* A write that fails on a helper thread (here at the file size limit) is
 * reported by a later write or by finish, and again by finish; the upload
 * leaves nothing behind. */
static void test_helper_write_error(void **state)
{
        struct fixture *f = *state;
        struct sigaction ignore = {.sa_handler = SIG_IGN}, old_action;
        struct rlimit old_limit, limit;
        unsigned char *data = pattern(BLOB_WRITE_BUFFER, 7);
        struct blob_upload *u;
        char sha[65];
        int r = 0;

        assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
        limit = old_limit;
        limit.rlim_cur = BLOB_HELP_AFTER + BLOB_WRITE_BUFFER + 1000;
        assert_int_equal(sigaction(SIGXFSZ, &ignore, &old_action), 0);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);

        assert_int_equal(blob_upload_new(f->bs, 16 << 20, &u), 0);
        for (int i = 0; i < 16 && r == 0; i++)
                r = blob_upload_write(u, data, BLOB_WRITE_BUFFER);
        if (r == 0)
                r = blob_upload_finish(u, sha);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
        assert_int_equal(sigaction(SIGXFSZ, &old_action, NULL), 0);
        assert_int_equal(r, -EFBIG);
        assert_int_equal(blob_upload_finish(u, sha), -EFBIG);
        assert_int_equal(blob_store_uploads_helped(f->bs), 1);
        blob_upload_free(u);
        assert_int_equal(blob_store_uploads_helped(f->bs), 0);
        assert_int_equal(count_temp(f), 0);
        free(data);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_upload_commit_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_upload_limit_and_abandon, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_upload_replaces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_uploads_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_helper_write_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_helped_uploads_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claims_and_discard, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scan_ignores_strangers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expire_temp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refs_and_quotas, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gc_races_uploads, setup, teardown),
        };
        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("blob_store", tests, NULL, NULL);
}
