/* SPDX-License-Identifier: MIT */
/*
 * Integration: the operator subcommands of the real binary (backup,
 * restore, check, gc) on data directories the real daemon wrote — help
 * and flag errors, refusals (root on another user's directory, a newer
 * or older schema, a non-empty restore target), check on damaged copies
 * (missing, truncated and altered blobs, a corrupted database page,
 * orphans and stale uploads), gc racing uploads of the same content in
 * the running daemon, a backup taken while two clients push and
 * upload, restored and served again, the `admin` commands against the
 * running daemon (users listed, confirmed, blocked and unblocked,
 * invitations used through the register endpoint), and the journal
 * records every command sends (to a stand-in journald).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define BOUNDARY   "----verstak-ops-boundary-4c1e0f9b7d4b52a1"
#define BLOBS_PATH "/api/v1/blobs/"

static const char config[] = "trusted_proxies: [\"127.0.0.1\"]\n";

/* --- helpers ---------------------------------------------------------------- */

/* snprintf for paths: the test fails when one does not fit. */
static void pathf(char *out, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(out, size, fmt, ap);
        va_end(ap);
        assert_true(n >= 0 && (size_t)n < size);
}

#define RUN(dir, res, ...)                                                                         \
        harness_run_server(dir, NULL, (const char *const[]){__VA_ARGS__, NULL}, res)

static void run_free(struct harness_cmd *r)
{
        free(r->out);
        r->out = NULL;
}

/* Expect exit code status and needle in the output. */
static void expect_run(const struct harness_cmd *r, int status, const char *needle)
{
        if (r->status != status || (needle && !strstr(r->out, needle)))
                fail_msg("expected exit %d with \"%s\", got %d:\n%s", status, needle ? needle : "",
                         r->status, r->out);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char d[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(d, data, len);
        sodium_bin2hex(out, 65, d, sizeof(d));
}

/* Upload data as a multipart file part; returns the HTTP status.  No
 * cmocka assertion: also called from other threads. */
static long upload(const struct daemon *d, const char *token, const void *data, size_t len)
{
        static const char head[] =
                "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; "
                "filename=\"b.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n";
        static const char tail[] = "\r\n--" BOUNDARY "--\r\n";
        char auth[128];
        const char *headers[] = {auth, "Content-Type: multipart/form-data; boundary=" BOUNDARY,
                                 NULL};
        size_t blen = sizeof(head) - 1 + len + sizeof(tail) - 1;
        char *body = malloc(blen);
        struct http_result r;
        long status = -1;

        if (!body)
                return -1;
        memcpy(body, head, sizeof(head) - 1);
        memcpy(body + sizeof(head) - 1, data, len);
        memcpy(body + sizeof(head) - 1 + len, tail, sizeof(tail) - 1);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        if (http_do(d, "POST", BLOBS_PATH, headers, body, blen, &r) == 0) {
                status = r.status;
                http_result_free(&r);
        }
        free(body);
        return status;
}

/* Push one op; returns the HTTP status (no cmocka assertion). */
static long push_op(const struct daemon *d, const char *token, const char *op_id,
                    const char *payload)
{
        json_t *body =
                json_pack("{s:[{s:s,s:s,s:s,s:s,s:s}]}", "ops", "op_id", op_id, "entity_type",
                          "note", "entity_id", op_id, "op_type", "create", "payload_json", payload);
        char *text = json_dumps(body, JSON_COMPACT);
        struct http_result r;
        long status = -1;

        json_decref(body);
        if (text && http_post_json(d, "/api/v1/sync/push", token, text, &r) == 0) {
                status = r.status;
                http_result_free(&r);
        }
        free(text);
        return status;
}

/* GET a blob and compare it with data. */
static void expect_blob(const struct daemon *d, const char *token, const char *sha,
                        const void *data, size_t len)
{
        char path[128];
        struct http_result r;

        pathf(path, sizeof(path), "%s%s", BLOBS_PATH, sha);
        assert_int_equal(http_get(d, path, token, &r), 0);
        if (r.status != 200)
                fail_msg("GET blob %s: %ld %s", sha, r.status, r.body);
        assert_int_equal(r.body_len, len);
        assert_memory_equal(r.body, data, len);
        http_result_free(&r);
}

static void blob_path(const struct daemon *d, const char *data_dir, const char *sha, char *out,
                      size_t size)
{
        (void)d;
        pathf(out, size, "%s/blobs/%.2s/%.2s/%s", data_dir, sha, sha + 2, sha);
}

/* A user with a paired device in vault "v"; token gets 65 bytes. */
static void user_with_device(const struct daemon *d, const char *name, char token[65])
{
        char pass[64], email[96];

        snprintf(pass, sizeof(pass), "%s-password-1", name);
        snprintf(email, sizeof(email), "%s@example.com", name);
        assert_int_equal(harness_add_user(d, name, email, pass, true, false, NULL), 0);
        assert_int_equal(harness_pair(d, name, pass, "v", token, NULL), 200);
        harness_note_secret(token);
}

/* Copy a data directory (cp -a) to a new one under d->root. */
static void copy_dir(const char *from, const char *to)
{
        const char *argv[] = {"cp", "-a", from, to, NULL};
        assert_int_equal(harness_run(argv), 0);
}

/* --- help and refusals ---------------------------------------------------- */

static void test_help_and_flags(void **state)
{
        static const char *const cmds[] = {"backup", "restore", "check", "gc"};
        char dir[] = "/tmp/verstak-ops-XXXXXX";
        struct harness_cmd r;
        (void)state;

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
                char usage[64];
                snprintf(usage, sizeof(usage), "Usage: verstak-sync-server %s", cmds[i]);
                RUN(dir, &r, cmds[i], "--help");
                expect_run(&r, 0, usage);
                run_free(&r);
                RUN(dir, &r, cmds[i], "--no-such-flag");
                expect_run(&r, 2, "unknown flag");
                run_free(&r);
        }
        RUN(dir, &r, "backup", "--data", dir);
        expect_run(&r, 2, "--output PATH is required");
        run_free(&r);
        RUN(dir, &r, "check", "--data", "/nonexistent/verstak");
        expect_run(&r, 2, "cannot open the data directory");
        run_free(&r);
        RUN(dir, &r, "check", "--data", dir);
        expect_run(&r, 2, "no database");
        run_free(&r);
        RUN(dir, &r, "--help");
        expect_run(&r, 0, "COMMAND [OPTIONS]");
        run_free(&r);
        const char *rm[] = {"rm", "-rf", dir, NULL};
        harness_run(rm);
}

static void test_refusals(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        char path[PATH_MAX * 2], other[PATH_MAX * 2];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);

        /* Root on a directory another user owns. */
        pathf(other, sizeof(other), "%s/other", d.root);
        copy_dir(d.data_dir, other);
        const char *chown_argv[] = {"chown", "-R", "65534:65534", other, NULL};
        assert_int_equal(harness_run(chown_argv), 0);
        assert_int_equal(chmod(d.root, 0711), 0); /* the owner must reach it */
        RUN(d.root, &r, "check", "--data", other);
        expect_run(&r, 2, "refusing to work as root");
        run_free(&r);
        /* With --allow-root it acts as that user: files it makes are theirs. */
        RUN(d.root, &r, "gc", "--data", other, "--allow-root");
        expect_run(&r, 0, "Removed 0 blob files");
        run_free(&r);
        struct stat st;
        pathf(path, sizeof(path), "%s/blobs/.claims", other);
        if (stat(path, &st) == 0)
                assert_int_equal(st.st_uid, 65534);
        RUN(d.root, &r, "check", "--data", other, "--allow-root");
        expect_run(&r, 0, "OK:");
        run_free(&r);

        /* A newer schema. */
        harness_set_schema_version(&d, 99);
        RUN(d.root, &r, "check", "--data", d.data_dir);
        expect_run(&r, 2, "newer");
        run_free(&r);
        RUN(d.root, &r, "gc", "--data", d.data_dir);
        expect_run(&r, 2, "newer");
        run_free(&r);
        /* An older one (the daemon migrates it; the commands do not). */
        harness_set_schema_version(&d, 2);
        RUN(d.root, &r, "check", "--data", d.data_dir);
        expect_run(&r, 2, "start the daemon once");
        run_free(&r);
        harness_destroy(&d);
}

/* --- check and gc on damaged copies ---------------------------------------- */

#define N_BLOBS 4
static struct daemon damaged;
static char damaged_sha[N_BLOBS][65];
static char damaged_token[65];

static int start_damaged(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        (void)state;

        harness_set_unique_client_ips(true);
        if (harness_start(&damaged, &o) < 0)
                return -1;
        user_with_device(&damaged, "dora", damaged_token);
        for (int i = 0; i < N_BLOBS; i++) {
                unsigned char data[3000];
                char op[32], payload[512];
                randombytes_buf(data, sizeof(data));
                sha256_hex(data, sizeof(data), damaged_sha[i]);
                if (upload(&damaged, damaged_token, data, sizeof(data)) != 200)
                        return -1;
                snprintf(op, sizeof(op), "op-%d", i);
                snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":3000}}",
                         damaged_sha[i]);
                if (push_op(&damaged, damaged_token, op, payload) != 200)
                        return -1;
        }
        return harness_stop(&damaged, SIGTERM, 25, NULL);
}

static int stop_damaged(void **state)
{
        (void)state;
        harness_destroy(&damaged);
        return 0;
}

/* A fresh copy of the healthy directory under name. */
static void damaged_copy(const char *name, char *out, size_t size)
{
        pathf(out, size, "%s/%s", damaged.root, name);
        copy_dir(damaged.data_dir, out);
}

static void test_check_healthy(void **state)
{
        struct harness_cmd r;
        (void)state;

        RUN(damaged.root, &r, "check", "--data", damaged.data_dir, "--verify-blobs");
        expect_run(&r, 0, "OK: 1 users, 4 operations (last sequence 4), 4 referenced blobs");
        assert_non_null(strstr(r.out, "contents verified"));
        run_free(&r);
}

static void test_check_missing_blob(void **state)
{
        char dir[PATH_MAX * 2], path[PATH_MAX * 2], line[128];
        struct harness_cmd r;
        (void)state;

        damaged_copy("missing", dir, sizeof(dir));
        blob_path(&damaged, dir, damaged_sha[0], path, sizeof(path));
        assert_int_equal(unlink(path), 0);
        RUN(damaged.root, &r, "check", "--data", dir);
        snprintf(line, sizeof(line), "blob %s: missing", damaged_sha[0]);
        expect_run(&r, 1, line);
        assert_non_null(strstr(r.out, "1 problems found"));
        run_free(&r);
}

static void test_check_truncated_blob(void **state)
{
        char dir[PATH_MAX * 2], path[PATH_MAX * 2], line[128];
        struct harness_cmd r;
        (void)state;

        damaged_copy("truncated", dir, sizeof(dir));
        blob_path(&damaged, dir, damaged_sha[1], path, sizeof(path));
        assert_int_equal(truncate(path, 1000), 0);
        RUN(damaged.root, &r, "check", "--data", dir);
        snprintf(line, sizeof(line), "blob %s: size differs", damaged_sha[1]);
        expect_run(&r, 1, line);
        run_free(&r);
}

static void test_check_wrong_content(void **state)
{
        char dir[PATH_MAX * 2], path[PATH_MAX * 2], line[128];
        struct harness_cmd r;
        (void)state;

        damaged_copy("altered", dir, sizeof(dir));
        blob_path(&damaged, dir, damaged_sha[2], path, sizeof(path));
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "XYZ", 3, 1500), 3);
        close(fd);
        /* Same size: only --verify-blobs reads the content. */
        RUN(damaged.root, &r, "check", "--data", dir);
        expect_run(&r, 0, "OK:");
        run_free(&r);
        RUN(damaged.root, &r, "check", "--data", dir, "--verify-blobs");
        snprintf(line, sizeof(line), "blob %s: content does not match its SHA-256", damaged_sha[2]);
        expect_run(&r, 1, line);
        run_free(&r);
}

static void test_check_corrupted_page(void **state)
{
        char dir[PATH_MAX * 2], path[PATH_MAX * 2];
        unsigned char junk[4096];
        struct stat st;
        struct harness_cmd r;
        (void)state;

        if (harness_on_pg())
                skip(); /* damages the SQLite file; PostgreSQL checks its own pages */
        damaged_copy("corrupt", dir, sizeof(dir));
        pathf(path, sizeof(path), "%s/server.db", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size >= 8 * 4096);
        /* Garbage over every page after the schema's first ones (not the
         * header page: the file must still look like a database). */
        memset(junk, 0x5a, sizeof(junk));
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        for (off_t off = 4 * 4096; off + 4096 <= st.st_size; off += 3 * 4096)
                assert_int_equal(pwrite(fd, junk, sizeof(junk), off), sizeof(junk));
        close(fd);
        RUN(damaged.root, &r, "check", "--data", dir);
        expect_run(&r, 1, "database");
        run_free(&r);
}

static void test_orphans_and_stale_uploads(void **state)
{
        char dir[PATH_MAX * 2], path[PATH_MAX * 2], sha[65];
        unsigned char junk[777];
        struct harness_cmd r;
        (void)state;

        damaged_copy("orphans", dir, sizeof(dir));
        /* An orphan blob file and an upload temp file two days old. */
        randombytes_buf(junk, sizeof(junk));
        sha256_hex(junk, sizeof(junk), sha);
        pathf(path, sizeof(path), "%s/blobs/%.2s", dir, sha);
        mkdir(path, 0750);
        pathf(path, sizeof(path), "%s/blobs/%.2s/%.2s", dir, sha, sha + 2);
        mkdir(path, 0750);
        blob_path(&damaged, dir, sha, path, sizeof(path));
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(junk, 1, sizeof(junk), f);
        fclose(f);
        pathf(path, sizeof(path), "%s/blobs/.upload-0123456789abcdef", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fwrite(junk, 1, 100, f);
        fclose(f);
        struct timespec old[2] = {{.tv_sec = time(NULL) - 48 * 3600},
                                  {.tv_sec = time(NULL) - 48 * 3600}};
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
        /* And a fresh one, which an upload may still be writing (its
         * time set from the clock the commands read). */
        pathf(path, sizeof(path), "%s/blobs/.upload-fedcba9876543210", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        struct timespec fresh[2] = {{.tv_sec = time(NULL)}, {.tv_sec = time(NULL)}};
        assert_int_equal(utimensat(AT_FDCWD, path, fresh, 0), 0);

        /* An old one an upload of another process still writes: it holds
         * the file's lock, as the daemon's uploads do. */
        char busy[PATH_MAX * 2];
        pathf(busy, sizeof(busy), "%s/blobs/.upload-00112233445566778899", dir);
        int busy_fd = open(busy, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
        assert_true(busy_fd >= 0);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        assert_int_equal(fcntl(busy_fd, F_OFD_SETLK, &fl), 0);
        assert_int_equal(futimens(busy_fd, old), 0);

        RUN(damaged.root, &r, "check", "--data", dir);
        expect_run(&r, 0, "1 orphan blob files (777 B), 1 stale uploads (100 B)");
        run_free(&r);
        RUN(damaged.root, &r, "gc", "--data", dir, "--dry-run");
        expect_run(&r, 0, "Would remove 1 blob files (777 B), 0 blob records and 1 stale uploads");
        run_free(&r);
        blob_path(&damaged, dir, sha, path, sizeof(path));
        assert_int_equal(access(path, F_OK), 0);
        RUN(damaged.root, &r, "gc", "--data", dir);
        expect_run(&r, 0,
                   "Removed 1 blob files (777 B), 0 blob records and 1 stale uploads (100 B)");
        run_free(&r);
        assert_int_equal(access(path, F_OK), -1);
        pathf(path, sizeof(path), "%s/blobs/.upload-fedcba9876543210", dir);
        assert_int_equal(access(path, F_OK), 0);
        assert_int_equal(access(busy, F_OK), 0);
        close(busy_fd); /* that upload ended: now it is stale */
        RUN(damaged.root, &r, "gc", "--data", dir);
        expect_run(&r, 0, "Removed 0 blob files (0 B), 0 blob records and 1 stale uploads (0 B)");
        run_free(&r);
        assert_int_equal(access(busy, F_OK), -1);
        RUN(damaged.root, &r, "check", "--data", dir, "--verify-blobs");
        expect_run(&r, 0, "0 orphan blob files (0 B), 0 stale uploads (0 B)");
        assert_non_null(strstr(r.out, "4 referenced blobs"));
        run_free(&r);
}

/* --- gc while the daemon uploads the same content ---------------------------- */

struct uploader {
        const struct daemon *d;
        const char *token;
        const unsigned char *data;
        size_t len;
        long status;
};

static void *upload_thread(void *arg)
{
        struct uploader *u = arg;
        u->status = upload(u->d, u->token, u->data, u->len);
        return NULL;
}

static void test_gc_races_upload(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        unsigned char data[20000];
        char token[65], sha[65], sql[256], path[PATH_MAX * 2];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        harness_set_unique_client_ips(true);
        assert_int_equal(harness_start(&d, &o), 0);
        user_with_device(&d, "gale", token);
        randombytes_buf(data, sizeof(data));
        sha256_hex(data, sizeof(data), sha);
        blob_path(&d, d.data_dir, sha, path, sizeof(path));

        for (int round = 0; round < 12; round++) {
                /* The file is there but nothing references it: garbage. */
                assert_int_equal(upload(&d, token, data, sizeof(data)), 200);
                snprintf(sql, sizeof(sql),
                         "DELETE FROM server_blob_refs WHERE sha256 = '%s';"
                         "DELETE FROM server_blobs WHERE sha256 = '%s'",
                         sha, sha);
                assert_int_equal(harness_db_exec(&d, sql), 0);

                /* An upload of the same content and gc, at the same time. */
                struct uploader u = {.d = &d, .token = token, .data = data, .len = sizeof(data)};
                pthread_t t;
                assert_int_equal(pthread_create(&t, NULL, upload_thread, &u), 0);
                RUN(d.root, &r, "gc", "--data", d.data_dir);
                expect_run(&r, 0, "Removed");
                run_free(&r);
                pthread_join(t, NULL);
                assert_int_equal(u.status, 200);

                /* Acknowledged means there: the reference and the file. */
                expect_blob(&d, token, sha, data, sizeof(data));
                assert_int_equal(access(path, F_OK), 0);
        }
        RUN(d.root, &r, "check", "--data", d.data_dir, "--verify-blobs");
        expect_run(&r, 0, "OK:");
        run_free(&r);
        harness_destroy(&d);
}

/* --- backup under load, restore, serve ------------------------------------------ */

#define MAX_ACKED 4096

struct client {
        const struct daemon *d;
        char token[65];
        const char *name;
        atomic_bool *stop;
        atomic_bool *backup_started;
        /* What was acknowledged before the backup began. */
        char (*ops)[40];
        size_t n_ops;
        atomic_size_t acked; /* n_ops, for the main thread to watch */
        char (*blobs)[65];
        unsigned char **blob_data;
        size_t n_blobs;
        int errors;
};

static void *client_thread(void *arg)
{
        struct client *c = arg;

        for (int i = 0; !atomic_load(c->stop) && i < MAX_ACKED; i++) {
                char op[40], sha[65], payload[512];
                unsigned char *data = malloc(2048);
                if (!data) {
                        c->errors++;
                        break;
                }
                randombytes_buf(data, 2048);
                sha256_hex(data, 2048, sha);
                long st = upload(c->d, c->token, data, 2048);
                snprintf(op, sizeof(op), "%s-op-%d", c->name, i);
                snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":2048}}",
                         sha);
                long sp = st == 200 ? push_op(c->d, c->token, op, payload) : -1;
                if (st != 200 || sp != 200) {
                        c->errors++;
                        free(data);
                        continue;
                }
                /* Acknowledged while the flag was still clear, i.e.
                 * before the backup command was started. */
                if (!atomic_load(c->backup_started)) {
                        memcpy(c->ops[c->n_ops++], op, sizeof(op));
                        memcpy(c->blobs[c->n_blobs], sha, 65);
                        c->blob_data[c->n_blobs++] = data;
                        atomic_store(&c->acked, c->n_ops);
                } else
                        free(data);
        }
        return NULL;
}

/* Every op id of the scope, by paging a pull from 0. */
static json_t *pull_all(const struct daemon *d, const char *token)
{
        json_t *ids = json_object();
        long long since = 0;

        for (;;) {
                char body[96];
                struct http_result r;
                snprintf(body, sizeof(body), "{\"since_sequence\":%lld,\"page_limit\":100}", since);
                assert_int_equal(http_post_json(d, "/api/v1/sync/pull", token, body, &r), 0);
                assert_int_equal(r.status, 200);
                size_t i;
                json_t *op;
                json_array_foreach(json_object_get(r.json, "ops"), i, op) json_object_set_new(
                        ids, json_string_value(json_object_get(op, "op_id")), json_true());
                since = json_integer_value(json_object_get(r.json, "page_last_sequence"));
                bool more = json_is_true(json_object_get(r.json, "has_more"));
                http_result_free(&r);
                if (!more)
                        break;
        }
        return ids;
}

static void test_backup_restore_under_load(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        struct daemon d = {0}, restored = {0};
        atomic_bool stop = false, started = false;
        struct client c[2] = {{.name = "ann"}, {.name = "ben"}};
        pthread_t t[2];
        char out[PATH_MAX * 2];
        struct harness_cmd r;
        (void)state;

        harness_set_unique_client_ips(true);
        assert_int_equal(harness_start(&d, &o), 0);
        if (harness_on_pg()) {
                /* A PostgreSQL database is backed up with pg_dump: the
                 * command says so and copies nothing. */
                pathf(out, sizeof(out), "%s/backup", d.root);
                RUN(d.root, &r, "backup", "--data", d.data_dir, "--output", out);
                expect_run(&r, 1, "pg_dump");
                run_free(&r);
                harness_destroy(&d);
                return;
        }
        for (int i = 0; i < 2; i++) {
                c[i].d = &d;
                c[i].stop = &stop;
                c[i].backup_started = &started;
                c[i].ops = calloc(MAX_ACKED, sizeof(*c[i].ops));
                c[i].blobs = calloc(MAX_ACKED, sizeof(*c[i].blobs));
                c[i].blob_data = calloc(MAX_ACKED, sizeof(*c[i].blob_data));
                assert_non_null(c[i].ops);
                assert_non_null(c[i].blobs);
                assert_non_null(c[i].blob_data);
                user_with_device(&d, c[i].name, c[i].token);
                assert_int_equal(pthread_create(&t[i], NULL, client_thread, &c[i]), 0);
        }
        /* Let both clients get some work acknowledged first. */
        for (int i = 0; i < 2; i++) {
                struct harness_deadline dl = harness_deadline_in(30000);
                while (atomic_load(&c[i].acked) < 5 && harness_pause(&dl))
                        ;
                assert_true(atomic_load(&c[i].acked) >= 5);
        }

        atomic_store(&started, true);
        pathf(out, sizeof(out), "%s/backup", d.root);
        RUN(d.root, &r, "backup", "--data", d.data_dir, "--output", out);
        expect_run(&r, 0, "Backup written to");
        run_free(&r);
        atomic_store(&stop, true);
        for (int i = 0; i < 2; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(c[i].errors, 0);
                assert_true(c[i].n_ops >= 5);
        }
        /* Clients kept working during the backup. */
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);

        /* Restore into a fresh directory and serve it. */
        assert_int_equal(harness_prepare(&restored, &(struct daemon_options){0}), 0);
        RUN(d.root, &r, "restore", "--from", out, "--data", restored.data_dir);
        expect_run(&r, 0, "Restored into");
        run_free(&r);
        RUN(d.root, &r, "restore", "--from", out, "--data", restored.data_dir);
        expect_run(&r, 2, "is not empty");
        run_free(&r);
        assert_int_equal(harness_start(&restored, &o), 0);
        for (int i = 0; i < 2; i++) {
                json_t *ids = pull_all(&restored, c[i].token);
                for (size_t k = 0; k < c[i].n_ops; k++)
                        if (!json_object_get(ids, c[i].ops[k]))
                                fail_msg("op %s acknowledged before the backup is missing",
                                         c[i].ops[k]);
                json_decref(ids);
                for (size_t k = 0; k < c[i].n_blobs; k++) {
                        expect_blob(&restored, c[i].token, c[i].blobs[k], c[i].blob_data[k], 2048);
                        free(c[i].blob_data[k]);
                }
                free(c[i].ops);
                free(c[i].blobs);
                free(c[i].blob_data);
        }
        RUN(d.root, &r, "check", "--data", restored.data_dir, "--verify-blobs");
        expect_run(&r, 0, "OK:");
        run_free(&r);
        harness_destroy(&restored);
        harness_destroy(&d);
}

static void test_restore_refuses_damage(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        char dir[] = "/tmp/verstak-ops-XXXXXX";
        char out[PATH_MAX * 2], target[PATH_MAX * 2], path[PATH_MAX * 2];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        if (harness_on_pg())
                skip(); /* restores SQLite backups (see test_backup_restore_under_load) */
        assert_non_null(mkdtemp(dir));
        assert_int_equal(harness_start(&d, &o), 0);
        pathf(out, sizeof(out), "%s/backup", dir);
        RUN(dir, &r, "backup", "--data", d.data_dir, "--output", out);
        expect_run(&r, 0, "Backup written to");
        run_free(&r);
        RUN(dir, &r, "backup", "--data", d.data_dir, "--output", out);
        expect_run(&r, 2, "is not empty");
        run_free(&r);
        harness_destroy(&d);

        /* A damaged database file is refused before anything is written. */
        pathf(path, sizeof(path), "%s/server.db", out);
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, "x", 1, 5000), 1);
        close(fd);
        pathf(target, sizeof(target), "%s/target", dir);
        RUN(dir, &r, "restore", "--from", out, "--data", target);
        expect_run(&r, 2, "does not match its manifest");
        run_free(&r);
        assert_int_equal(access(target, F_OK), -1);

        /* A backup from a newer schema. */
        pathf(path, sizeof(path), "%s/manifest.json", out);
        char *m = harness_read_file(path);
        assert_non_null(m);
        char *p = strstr(m, "\"schema_version\": ");
        assert_non_null(p);
        p += strlen("\"schema_version\": ");
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "%.*s999%s", (int)(p - m), m, p + strspn(p, "0123456789"));
        fclose(f);
        free(m);
        RUN(dir, &r, "restore", "--from", out, "--data", target);
        expect_run(&r, 2, "newer than this program");
        run_free(&r);
        const char *rm[] = {"rm", "-rf", dir, NULL};
        harness_run(rm);
}

/* --- admin ----------------------------------------------------------------------- */

static long admin_login(const struct daemon *d, const char *name, const char *password)
{
        json_t *body = json_pack("{s:s,s:s}", "username", name, "password", password);
        char *text = json_dumps(body, JSON_COMPACT);
        struct http_result r;

        json_decref(body);
        http_call(d, "POST", "/admin/api/login", harness_fresh_ip(), "application/json", text, NULL,
                  &r);
        free(text);
        long st = r.status;
        http_result_free(&r);
        return st;
}

static void test_admin_commands(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        char pw_file[PATH_MAX * 2], token[65], token2[65], device[29];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        harness_note_secret("first-admin-password");
        harness_note_secret("second-admin-password");

        /* create-admin from standard input; the daemon lets it in. */
        harness_run_server(d.root, "first-admin-password\n",
                           (const char *const[]){"admin", "create-admin", "ops", "--password-stdin",
                                                 "--data", d.data_dir, NULL},
                           &r);
        expect_run(&r, 0, "Administrator 'ops' created");
        run_free(&r);
        assert_int_equal(admin_login(&d, "ops", "first-admin-password"), 200);
        harness_run_server(d.root, "another\n",
                           (const char *const[]){"admin", "create-admin", "ops", "--password-stdin",
                                                 "--data", d.data_dir, NULL},
                           &r);
        expect_run(&r, 1, "exists; use reset-admin");
        run_free(&r);

        /* reset-admin from a file, with --json. */
        pathf(pw_file, sizeof(pw_file), "%s/pw", d.root);
        FILE *f = fopen(pw_file, "w");
        assert_non_null(f);
        fputs("second-admin-password\n", f);
        fclose(f);
        RUN(d.root, &r, "admin", "reset-admin", "ops", "--password-file", pw_file, "--data",
            d.data_dir, "--json");
        expect_run(&r, 0, "{\"created\":false,\"username\":\"ops\"}");
        run_free(&r);
        assert_int_equal(admin_login(&d, "ops", "second-admin-password"), 200);
        assert_int_equal(admin_login(&d, "ops", "first-admin-password"), 401);
        RUN(d.root, &r, "admin", "reset-admin", "nobody", "--password-file", pw_file, "--data",
            d.data_dir);
        expect_run(&r, 1, "no administrator 'nobody'");
        run_free(&r);

        /* Never a password on the command line, never two sources. */
        RUN(d.root, &r, "admin", "create-admin", "x", "--password", "secret", "--data", d.data_dir);
        expect_run(&r, 2, "unknown flag");
        run_free(&r);
        RUN(d.root, &r, "admin", "create-admin", "x", "--data", d.data_dir);
        expect_run(&r, 2, "exactly one of --password-file FILE and --password-stdin");
        run_free(&r);
        harness_run_server(d.root, "\n",
                           (const char *const[]){"admin", "create-admin", "x", "--password-stdin",
                                                 "--data", d.data_dir, NULL},
                           &r);
        expect_run(&r, 2, "must be 1-256 bytes");
        run_free(&r);

        /* revoke-device: the token stops working at once. */
        harness_set_unique_client_ips(true);
        user_with_device(&d, "rita", token);
        assert_int_equal(harness_pair(&d, "rita", "rita-password-1", "v2", token2, device), 200);
        harness_note_secret(token2);
        assert_int_equal(push_op(&d, token2, "before-revoke", "{}"), 200);
        RUN(d.root, &r, "admin", "revoke-device", device, "--data", d.data_dir);
        expect_run(&r, 0, "revoked");
        run_free(&r);
        RUN(d.root, &r, "admin", "revoke-device", device, "--data", d.data_dir, "--json");
        expect_run(&r, 0, "\"already_revoked\":true");
        run_free(&r);
        RUN(d.root, &r, "admin", "revoke-device", "dev_unknown", "--data", d.data_dir);
        expect_run(&r, 1, "no device");
        run_free(&r);
        long long revoked = 0;
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_devices WHERE id = '%s' AND revoked_at IS NOT NULL"
                 " AND revoked_at <> ''",
                 device);
        assert_int_equal(harness_db_int(&d, sql, &revoked), 0);
        assert_int_equal(revoked, 1);
        assert_int_equal(push_op(&d, token2, "after-revoke", "{}"), 401);
        assert_int_equal(push_op(&d, token, "still-works", "{}"), 200);

        RUN(d.root, &r, "admin", "--help");
        expect_run(&r, 0, "Usage: verstak-sync-server admin");
        run_free(&r);
        RUN(d.root, &r, "admin", "frobnicate", "--data", d.data_dir);
        expect_run(&r, 2, "unknown command");
        run_free(&r);
        harness_destroy(&d);
}

/* --- admin: users and invitations ---------------------------------------------- */

static const char *const admin_subs[] = {
        "create-admin", "reset-admin",  "list-users",        "confirm-user",
        "block-user",   "unblock-user", "create-invitation", "revoke-device",
};

/* Run an admin command that prints JSON and parse it (exit 0 expected). */
static json_t *run_json(const struct daemon *d, const char *const *args)
{
        json_error_t err;
        struct harness_cmd r;

        harness_run_server(d->root, NULL, args, &r);
        expect_run(&r, 0, NULL);
        json_t *j = json_loads(r.out, 0, &err);
        if (!j)
                fail_msg("not one JSON document (%s):\n%s", err.text, r.out);
        run_free(&r);
        return j;
}

static const char *member(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));
        if (!s)
                fail_msg("no string \"%s\" in the answer", key);
        return s;
}

/* POST /api/v1/auth/login; the status. */
static long user_login(const struct daemon *d, const char *name, const char *password)
{
        json_t *body = json_pack("{s:s,s:s}", "username", name, "password", password);
        char *text = json_dumps(body, JSON_COMPACT);
        struct http_result r;

        json_decref(body);
        http_call(d, "POST", "/api/v1/auth/login", harness_fresh_ip(), "application/json", text,
                  NULL, &r);
        free(text);
        long st = r.status;
        http_result_free(&r);
        return st;
}

static void test_admin_flags(void **state)
{
        static const char *const bad[][6] = {
                {"list-users", "--status", "bogus"},
                {"list-users", "--per-page", "0"},
                {"list-users", "--per-page", "101"},
                {"list-users", "--page", "-1"},
                {"list-users", "--page", "x"},
                {"list-users", "--sort", "password_hash"},
                {"list-users", "--order", "up"},
                {"list-users", "extra"},
                {"block-user"},
                {"block-user", "a", "b"},
                {"block-user", "a", "--hours", "3"},
                {"confirm-user", "a", "--search", "x"},
                {"unblock-user", "a", "--password-stdin"},
                {"create-invitation", "--hours", "0"},
                {"create-invitation", "--hours", "721"},
                {"create-invitation", "x"},
                {"list-users", "--email", "a@b.c"},
        };
        char dir[] = "/tmp/verstak-ops-XXXXXX";
        struct harness_cmd r;
        (void)state;

        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < sizeof(admin_subs) / sizeof(admin_subs[0]); i++) {
                char usage[96];
                snprintf(usage, sizeof(usage), "Usage: verstak-sync-server admin %s",
                         admin_subs[i]);
                RUN(dir, &r, "admin", admin_subs[i], "--help");
                expect_run(&r, 0, usage);
                expect_run(&r, 0, "--data DIR");
                run_free(&r);
        }
        /* Flags are checked before the data directory is opened. */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *args[12] = {"admin"};
                size_t n = 1;
                for (size_t k = 0; k < 6 && bad[i][k]; k++)
                        args[n++] = bad[i][k];
                args[n++] = "--data";
                args[n++] = "/nonexistent/verstak";
                harness_run_server(dir, NULL, args, &r);
                if (r.status != 2 || strstr(r.out, "cannot open the data directory"))
                        fail_msg("admin %s %s: expected a flag error, got %d:\n%s", bad[i][0],
                                 bad[i][1] ? bad[i][1] : "", r.status, r.out);
                run_free(&r);
        }
        const char *rm[] = {"rm", "-rf", dir, NULL};
        harness_run(rm);
}

/* The offset of needle in the line of text that contains key, or -1. */
static long column_of(const char *text, const char *key, const char *needle)
{
        const char *line = strstr(text, key);
        if (!line)
                return -1;
        while (line > text && line[-1] != '\n')
                line--;
        const char *end = strchr(line, '\n');
        const char *at = strstr(line, needle);
        return at && (!end || at < end) ? (long)(at - line) : -1;
}

static void test_admin_users(void **state)
{
        struct daemon_options o = {.config_yaml = config};
        char ann[32], bob[32], cyd[32], token[65], other[PATH_MAX * 2];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        harness_set_unique_client_ips(true);
        harness_note_secret("ann-password-1");
        harness_note_secret("bob-password-1");
        assert_int_equal(
                harness_add_user(&d, "ann", "ann@example.com", "ann-password-1", true, false, ann),
                0);
        assert_int_equal(
                harness_add_user(&d, "bob", "bob@example.com", "bob-password-1", false, false, bob),
                0);
        assert_int_equal(
                harness_add_user(&d, "cyd", "cyd@example.com", "cyd-password-1", true, true, cyd),
                0);
        assert_int_equal(harness_pair(&d, "ann", "ann-password-1", "v", token, NULL), 200);
        harness_note_secret(token);

        /* list-users --json: the console's shape, the database's rows. */
        json_t *j = run_json(&d, (const char *const[]){"admin", "list-users", "--json", "--data",
                                                       d.data_dir, NULL});
        assert_int_equal(json_integer_value(json_object_get(j, "total")),
                         harness_sql_int(&d, "SELECT count(*) FROM server_users"));
        assert_int_equal(json_integer_value(json_object_get(j, "page")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "per_page")), 20);
        assert_true(json_is_false(json_object_get(j, "total_capped")));
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(j, "users"), i, u)
        {
                const char *id = member(u, "id");
                assert_int_equal(
                        harness_sql_int(
                                &d,
                                "SELECT count(*) FROM server_users WHERE id = %Q"
                                " AND username = %Q AND email = %Q AND"
                                " confirmed = %lld AND blocked = %lld",
                                id, member(u, "username"), member(u, "email"),
                                (long long)json_integer_value(json_object_get(u, "confirmed")),
                                (long long)json_integer_value(json_object_get(u, "blocked"))),
                        1);
                long long devices = json_integer_value(json_object_get(u, "devices"));
                assert_int_equal(devices, harness_sql_int(&d,
                                                          "SELECT count(*) FROM server_devices"
                                                          " WHERE user_id = %Q",
                                                          id));
        }
        assert_int_equal(json_array_size(json_object_get(j, "users")), 3);
        json_decref(j);
        /* Paging, sorting and filters, as the console's. */
        j = run_json(&d, (const char *const[]){"admin", "list-users", "--json", "--sort",
                                               "username", "--order", "asc", "--per-page", "2",
                                               "--page", "2", "--data", d.data_dir, NULL});
        char *third = harness_sql_text(&d, "SELECT username FROM server_users ORDER BY username"
                                           " LIMIT 1 OFFSET 2");
        assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
        assert_string_equal(member(json_array_get(json_object_get(j, "users"), 0), "username"),
                            third);
        free(third);
        json_decref(j);
        j = run_json(&d, (const char *const[]){"admin", "list-users", "--json", "--status",
                                               "blocked", "--data", d.data_dir, NULL});
        assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
        assert_string_equal(member(json_array_get(json_object_get(j, "users"), 0), "id"), cyd);
        json_decref(j);
        j = run_json(&d, (const char *const[]){"admin", "list-users", "--json", "--search", "BO",
                                               "--data", d.data_dir, NULL});
        assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
        assert_string_equal(member(json_array_get(json_object_get(j, "users"), 0), "id"), bob);
        json_decref(j);

        /* The table: a header, aligned columns, a footer. */
        RUN(d.root, &r, "admin", "list-users", "--sort", "username", "--order", "asc", "--data",
            d.data_dir);
        expect_run(&r, 0, "Page 1 of 1; 3 users match");
        long email_col = column_of(r.out, "USERNAME", "EMAIL");
        assert_true(email_col > 0);
        assert_int_equal(column_of(r.out, "ann@example.com", "ann@example.com"), email_col);
        assert_int_equal(column_of(r.out, "cyd@example.com", "cyd@example.com"), email_col);
        long status_col = column_of(r.out, "USERNAME", "STATUS");
        assert_int_equal(column_of(r.out, "bob@example.com", "unconfirmed"), status_col);
        assert_int_equal(column_of(r.out, "cyd@example.com", "blocked"), status_col);
        assert_null(strstr(r.out, "\033["));
        run_free(&r);
        RUN(d.root, &r, "admin", "list-users", "--search", "nobody-at-all", "--data", d.data_dir);
        expect_run(&r, 0, "No users match");
        run_free(&r);

        /* confirm-user lets an unconfirmed user in. */
        assert_int_equal(user_login(&d, "bob", "bob-password-1"), 403);
        assert_int_equal(harness_pair(&d, "bob", "bob-password-1", "v", NULL, NULL), 403);
        j = run_json(&d, (const char *const[]){"admin", "confirm-user", "bob", "--json", "--data",
                                               d.data_dir, NULL});
        assert_string_equal(member(j, "user_id"), bob);
        assert_true(json_is_true(json_object_get(j, "confirmed")));
        assert_true(json_is_true(json_object_get(j, "changed")));
        json_decref(j);
        assert_int_equal(
                harness_sql_int(&d, "SELECT confirmed FROM server_users WHERE id = %Q", bob), 1);
        assert_int_equal(user_login(&d, "bob", "bob-password-1"), 200);
        assert_int_equal(harness_pair(&d, "bob", "bob-password-1", "v", NULL, NULL), 200);
        RUN(d.root, &r, "admin", "confirm-user", bob, "--data", d.data_dir);
        expect_run(&r, 0, "already confirmed");
        run_free(&r);

        /* block-user (by e-mail address): sessions end, the running daemon
         * refuses the device; unblock-user lets it in again. */
        assert_int_equal(user_login(&d, "ann", "ann-password-1"), 200);
        assert_true(harness_sql_int(&d,
                                    "SELECT count(*) FROM server_sessions WHERE scope ="
                                    " 'user' AND subject_id = %Q",
                                    ann) > 0);
        assert_int_equal(push_op(&d, token, "before-block", "{}"), 200);
        RUN(d.root, &r, "admin", "block-user", "ANN@example.com", "--data", d.data_dir);
        expect_run(&r, 0, "User 'ann'");
        expect_run(&r, 0, "blocked");
        run_free(&r);
        assert_int_equal(harness_sql_int(&d, "SELECT blocked FROM server_users WHERE id = %Q", ann),
                         1);
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_sessions WHERE scope ="
                                         " 'user' AND subject_id = %Q",
                                         ann),
                         0);
        assert_int_equal(push_op(&d, token, "while-blocked", "{}"), 403);
        assert_int_equal(harness_pair(&d, "ann", "ann-password-1", "v", NULL, NULL), 403);
        j = run_json(&d, (const char *const[]){"admin", "block-user", ann, "--json", "--data",
                                               d.data_dir, NULL});
        assert_true(json_is_true(json_object_get(j, "blocked")));
        assert_true(json_is_false(json_object_get(j, "changed")));
        json_decref(j);
        j = run_json(&d, (const char *const[]){"admin", "unblock-user", "ann", "--json", "--data",
                                               d.data_dir, NULL});
        assert_string_equal(member(j, "user_id"), ann);
        assert_true(json_is_false(json_object_get(j, "blocked")));
        assert_true(json_is_true(json_object_get(j, "changed")));
        json_decref(j);
        assert_int_equal(harness_sql_int(&d, "SELECT blocked FROM server_users WHERE id = %Q", ann),
                         0);
        assert_int_equal(push_op(&d, token, "after-unblock", "{}"), 200);

        /* Each change is in the audit log, as the console's, from the host. */
        assert_int_equal(
                harness_sql_int(&d, "SELECT count(*) FROM server_audit_log WHERE"
                                    " event_type IN ('admin_user_confirmed',"
                                    " 'admin_user_blocked', 'admin_user_unblocked') AND"
                                    " message LIKE '%%from the host command line by ''root'''"),
                3);
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_audit_log WHERE"
                                         " event_type = 'admin_user_blocked' AND user_id = %Q",
                                         ann),
                         1);

        /* Unknown users. */
        static const char *const acts[] = {"confirm-user", "block-user", "unblock-user"};
        for (size_t k = 0; k < 3; k++) {
                RUN(d.root, &r, "admin", acts[k], "nobody", "--data", d.data_dir);
                expect_run(&r, 1, "no user 'nobody'");
                run_free(&r);
        }

        /* The wrong user is refused, and so is a newer schema. */
        pathf(other, sizeof(other), "%s/other", d.root);
        copy_dir(d.data_dir, other);
        const char *chown_argv[] = {"chown", "-R", "65534:65534", other, NULL};
        assert_int_equal(harness_run(chown_argv), 0);
        assert_int_equal(chmod(d.root, 0711), 0);
        for (size_t k = 0; k < 3; k++) {
                RUN(d.root, &r, "admin", acts[k], "ann", "--data", other);
                expect_run(&r, 2, "refusing to work as root");
                run_free(&r);
        }
        RUN(d.root, &r, "admin", "list-users", "--data", other);
        expect_run(&r, 2, "refusing to work as root");
        run_free(&r);
        harness_set_schema_version(&d, 99);
        RUN(d.root, &r, "admin", "block-user", "ann", "--data", d.data_dir);
        expect_run(&r, 2, "newer");
        run_free(&r);
        RUN(d.root, &r, "admin", "list-users", "--data", d.data_dir);
        expect_run(&r, 2, "newer");
        run_free(&r);
        harness_set_unique_client_ips(false);
        harness_destroy(&d);
}

/* POST /api/v1/auth/register with an invitation; the answer's status and
 * code ("" on success). */
static long register_invited(const struct daemon *d, const char *name, const char *email,
                             const char *invitation, char *code, size_t code_size)
{
        json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "username", name, "email", email, "password",
                                 "invited-password-1", "invitation", invitation);
        char *text = json_dumps(body, JSON_COMPACT);
        struct http_result r;

        json_decref(body);
        http_call(d, "POST", "/api/v1/auth/register", harness_fresh_ip(), "application/json", text,
                  NULL, &r);
        free(text);
        snprintf(code, code_size, "%s", http_result_code(&r));
        long st = r.status;
        http_result_free(&r);
        return st;
}

/* The token of an invitation link, after "?invitation=". */
static const char *link_token(const char *url)
{
        static const char base[] = "https://sync.example.test/register?invitation=";
        if (strncmp(url, base, sizeof(base) - 1) != 0)
                fail_msg("not a link on public_url: %s", url);
        return url + sizeof(base) - 1;
}

static void test_admin_invitations(void **state)
{
        static const char closed[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                     "public_url: https://sync.example.test\n"
                                     "web:\n  allow_registration: false\n";
        struct daemon_options o = {.config_yaml = closed};
        char no_url[PATH_MAX * 2], token[80], code[64], hash[65];
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        harness_note_secret("invited-password-1");

        /* Bound to an address, with --json: checked against the database. */
        json_t *j = run_json(&d, (const char *const[]){"admin", "create-invitation", "--email",
                                                       "Mia@Example.test", "--hours", "2", "--json",
                                                       "--data", d.data_dir, NULL});
        snprintf(token, sizeof(token), "%s", link_token(member(j, "url")));
        harness_note_secret(token);
        assert_string_equal(member(j, "token"), token);
        assert_string_equal(member(j, "email"), "mia@example.test");
        sha256_hex(token, strlen(token), hash);
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_invitations WHERE id = %Q"
                                         " AND token_hash = %Q AND email = 'mia@example.test'"
                                         " AND expires_at = %Q AND used_at IS NULL",
                                         member(j, "id"), hash, member(j, "expires_at")),
                         1);
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_invitations WHERE"
                                         " token_hash = %Q",
                                         token),
                         0);
        json_decref(j);
        /* It works once, through the running daemon, for that address only. */
        assert_int_equal(register_invited(&d, "eve", "eve@example.test", token, code, sizeof(code)),
                         403);
        assert_string_equal(code, "invitation_email_mismatch");
        assert_int_equal(register_invited(&d, "mia", "mia@example.test", token, code, sizeof(code)),
                         200);
        assert_int_equal(
                register_invited(&d, "mia2", "mia@example.test", token, code, sizeof(code)), 403);
        assert_string_equal(code, "invitation_invalid");

        /* An open one, as text: the link is the last line. */
        RUN(d.root, &r, "admin", "create-invitation", "--data", d.data_dir);
        expect_run(&r, 0, "single use, expires ");
        const char *url = strstr(r.out, "https://sync.example.test/register?invitation=");
        assert_non_null(url);
        snprintf(token, sizeof(token), "%.*s", (int)strcspn(link_token(url), "\n"),
                 link_token(url));
        harness_note_secret(token);
        run_free(&r);
        assert_int_equal(register_invited(&d, "noa", "noa@example.test", token, code, sizeof(code)),
                         200);
        assert_int_equal(register_invited(&d, "ola", "ola@example.test", token, code, sizeof(code)),
                         403);
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_audit_log WHERE event_type ="
                                         " 'admin_invitation_created' AND message LIKE"
                                         " '%%from the host command line by ''root'''"),
                         2);

        /* Refusals write nothing: a bad address, and no public_url. */
        RUN(d.root, &r, "admin", "create-invitation", "--email", "nope", "--data", d.data_dir);
        expect_run(&r, 2, "invalid e-mail address");
        run_free(&r);
        pathf(no_url, sizeof(no_url), "%s/no-url.yml", d.root);
        FILE *f = fopen(no_url, "w");
        assert_non_null(f);
        fputs("web:\n  allow_registration: false\n", f);
        if (d.pg_url[0])
                fprintf(f, "database:\n  url: \"%s\"\n", d.pg_url);
        fclose(f);
        RUN(d.root, &r, "admin", "create-invitation", "--config", no_url, "--data", d.data_dir);
        expect_run(&r, 2, "public_url is not set");
        run_free(&r);
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_invitations"), 2);
        harness_destroy(&d);
}

/* --- MESSAGE_IDs of the operator commands ---------------------------------------- */

/* Run the server binary with args under a stand-in journald (a private
 * mount namespace with its own /run, tests/integration/journal_sink.py);
 * the records it sent are appended to *journal (malloc'd text). */
static void run_journaled(const struct daemon *d, struct harness_cmd *r, char **journal,
                          const char *const *args)
{
        const char *py = getenv("VERSTAK_TEST_PYTHON");
        char script[PATH_MAX], out[PATH_MAX * 2];
        const char *argv[40] = {
                "/usr/bin/unshare",
                "-m",
                "/bin/sh",
                "-c",
                "mount -t tmpfs tmpfs /run && exec \"$0\" \"$@\"",
                py ? py : "/usr/bin/python3",
                script,
                out,
                harness_server_bin(),
        };
        size_t n = 9;

        pathf(script, sizeof(script), "%s/tests/integration/journal_sink.py",
              harness_source_root());
        pathf(out, sizeof(out), "%s/journal.txt", d->root);
        for (size_t i = 0; args[i]; i++) {
                assert_true(n < 39);
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        harness_run_argv(d->root, NULL, argv, r);
        char *text = harness_read_file(out);
        assert_non_null(text);
        size_t old = *journal ? strlen(*journal) : 0;
        char *all = realloc(*journal, old + strlen(text) + 1);
        assert_non_null(all);
        memcpy(all + old, text, strlen(text) + 1);
        *journal = all;
        free(text);
}

/* The record in journal with MESSAGE_ID=id must exist and carry field. */
static void expect_record(const char *journal, const char *id, const char *field)
{
        char key[64];

        snprintf(key, sizeof(key), "MESSAGE_ID=%s\n", id);
        const char *rec = strstr(journal, key);
        if (!rec)
                fail_msg("no record with %s in:\n%s", key, journal);
        while (rec > journal && !(rec[-1] == '\n' && rec - 1 > journal && rec[-2] == '\n'))
                rec--;
        const char *end = strstr(rec, "\n\n");
        const char *at = strstr(rec, field);
        if (!at || (end && at > end))
                fail_msg("record %s has no %s:\n%s", id, field, journal);
}

/* Restore backup into restored twice (the second time refused) and check
 * the copy, each under the stand-in journald. */
static void restore_journaled(const struct daemon *d, const char *backup, const char *restored,
                              char **journal)
{
        struct harness_cmd r;

        run_journaled(d, &r, journal,
                      (const char *const[]){"restore", "--from", backup, "--data", restored, NULL});
        expect_run(&r, 0, "Restored into");
        run_free(&r);
        run_journaled(d, &r, journal,
                      (const char *const[]){"restore", "--from", backup, "--data", restored, NULL});
        expect_run(&r, 2, "is not empty");
        run_free(&r);
        run_journaled(d, &r, journal, (const char *const[]){"check", "--data", restored, NULL});
        expect_run(&r, 0, "OK:");
        run_free(&r);
}

static void test_command_journal(void **state)
{
        const char *const probe[] = {"unshare", "-m", "true", NULL};
        struct daemon_options o = {.config_yaml = config};
        char backup[PATH_MAX * 2], restored[PATH_MAX * 2], id[32];
        char *journal = NULL;
        struct daemon d = {0};
        struct harness_cmd r;
        (void)state;

        if (harness_run(probe) != 0)
                skip(); /* no mount namespaces here */
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(
                harness_add_user(&d, "pia", "pia@example.com", "pia-password-1", true, false, id),
                0);
        pathf(backup, sizeof(backup), "%s/backup", d.root);
        pathf(restored, sizeof(restored), "%s/restored", d.root);

        /* Without journald the commands write no records to their output. */
        RUN(d.root, &r, "admin", "block-user", "pia", "--data", d.data_dir);
        expect_run(&r, 0, "blocked");
        assert_null(strstr(r.out, "admin_user_blocked"));
        run_free(&r);

        run_journaled(
                &d, &r, &journal,
                (const char *const[]){"admin", "unblock-user", "pia", "--data", d.data_dir, NULL});
        expect_run(&r, 0, "unblocked");
        run_free(&r);
        run_journaled(
                &d, &r, &journal,
                (const char *const[]){"admin", "block-user", "pia", "--data", d.data_dir, NULL});
        run_free(&r);
        run_journaled(&d, &r, &journal,
                      (const char *const[]){"admin", "confirm-user", "nobody", "--data", d.data_dir,
                                            NULL});
        expect_run(&r, 1, "no user");
        run_free(&r);
        run_journaled(&d, &r, &journal, (const char *const[]){"gc", "--data", d.data_dir, NULL});
        expect_run(&r, 0, "Removed");
        run_free(&r);
        run_journaled(
                &d, &r, &journal,
                (const char *const[]){"backup", "--data", d.data_dir, "--output", backup, NULL});
        if (harness_on_pg()) {
                /* pg_dump backs up PostgreSQL: nothing to restore. */
                expect_run(&r, 1, "pg_dump");
                run_free(&r);
                run_journaled(&d, &r, &journal,
                              (const char *const[]){"check", "--data", d.data_dir, NULL});
                expect_run(&r, 0, "OK:");
                run_free(&r);
        } else {
                expect_run(&r, 0, "Backup written");
                run_free(&r);
                restore_journaled(&d, backup, restored, &journal);
        }

        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00144", "EVENT=admin_user_unblocked");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00143", "OPERATOR=root");
        char user_field[64];
        snprintf(user_field, sizeof(user_field), "USER_ID=%s", id);
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00143", user_field);
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00147", "EVENT=admin_failed");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00131", "EVENT=gc_started");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00132", "EVENT=gc_finished");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00101", "EVENT=backup_started");
        if (!harness_on_pg()) {
                expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00102", "EVENT=backup_finished");
                expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00111", "EVENT=restore_started");
                expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00112",
                              "EVENT=restore_finished");
                expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00113", "is not empty");
        }
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00121", "EVENT=check_started");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00122", "EVENT=check_healthy");
        expect_record(journal, "5e8f2a914c7b4d06b1e3a7c9d2f00122", "PRIORITY=5");
        free(journal);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest alone[] = {
                cmocka_unit_test(test_help_and_flags),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_gc_races_upload),
                cmocka_unit_test(test_backup_restore_under_load),
                cmocka_unit_test(test_restore_refuses_damage),
                cmocka_unit_test(test_admin_commands),
                cmocka_unit_test(test_admin_flags),
                cmocka_unit_test(test_admin_users),
                cmocka_unit_test(test_admin_invitations),
                cmocka_unit_test(test_command_journal),
        };
        const struct CMUnitTest on_damaged[] = {
                cmocka_unit_test(test_check_healthy),
                cmocka_unit_test(test_check_missing_blob),
                cmocka_unit_test(test_check_truncated_blob),
                cmocka_unit_test(test_check_wrong_content),
                cmocka_unit_test(test_check_corrupted_page),
                cmocka_unit_test(test_orphans_and_stale_uploads),
        };
        int failed;

        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
                return 1;
        failed = cmocka_run_group_tests_name("ops", alone, NULL, NULL);
        failed += cmocka_run_group_tests_name("ops-check", on_damaged, start_damaged, stop_damaged);
        curl_global_cleanup();
        return failed;
}
