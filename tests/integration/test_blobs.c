/* SPDX-License-Identifier: MIT */
/*
 * Integration: the blob endpoints (api.md §5) against the real binary —
 * upload/download round trips at the size limit, every invalid_multipart
 * case, scoped deduplication, ranges, chunked and aborted uploads,
 * quotas, revoked devices and blocked users, concurrent uploads of the
 * same content, push-time blob references, retention of stale upload
 * files, garbage collection on a real data directory, and blobs of a data
 * directory written by the existing server.
 *
 * Users are inserted with sqlite3 (Argon2id hashes from libsodium) and
 * paired through POST /api/client/pair; each pairing comes from another
 * X-Forwarded-For address (127.0.0.1 is a trusted proxy here) so the
 * per-address pairing limit is not in the way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "harness.h"
#include "store/store.h"
#include "store/store_blobs.h"

#define MAX_BLOB   65536
#define BOUNDARY   "----verstak-test-boundary-7MA4YWxkTrZu0gW"
#define BLOBS_PATH "/api/v1/blobs/"

static struct daemon shared;

/* Device tokens of the shared daemon. */
static char tok_alice_a[65], tok_alice_b[65], tok_bob[65], tok_carol[65], tok_doomed[65];

/* --- helpers ---------------------------------------------------------------- */

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char d[crypto_hash_sha256_BYTES];
        static const char digits[] = "0123456789abcdef";

        crypto_hash_sha256(d, data, len);
        for (size_t i = 0; i < sizeof(d); i++) {
                out[2 * i] = digits[d[i] >> 4];
                out[2 * i + 1] = digits[d[i] & 15];
        }
        out[64] = '\0';
}

static unsigned char *random_bytes(size_t len)
{
        unsigned char *p = malloc(len ? len : 1);
        assert_non_null(p);
        randombytes_buf(p, len);
        return p;
}

/* A multipart body: prefix, content, suffix (the caller frees). */
static char *multipart_body(const char *part_headers, const void *data, size_t len,
                            const char *tail, size_t *ret_len)
{
        char head[1024];
        int hn = snprintf(head, sizeof(head), "--" BOUNDARY "\r\n%s\r\n", part_headers);
        size_t tn = strlen(tail);
        char *body = malloc((size_t)hn + len + tn + 1);
        assert_non_null(body);

        memcpy(body, head, (size_t)hn);
        memcpy(body + hn, data, len);
        memcpy(body + (size_t)hn + len, tail, tn + 1);
        *ret_len = (size_t)hn + len + tn;
        return body;
}

#define FILE_PART                                                                                  \
        "Content-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n"                 \
        "Content-Type: application/octet-stream\r\n"
#define CLOSE_TAIL   "\r\n--" BOUNDARY "--\r\n"
#define MULTIPART_CT "Content-Type: multipart/form-data; boundary=" BOUNDARY

/* POST a raw body to the upload endpoint. */
static int post_blob_raw(const struct daemon *d, const char *token, const char *content_type,
                         const void *body, size_t len, bool chunked, struct http_result *r)
{
        char auth[128];
        const char *headers[5] = {0};
        size_t n = 0;

        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                headers[n++] = auth;
        }
        if (content_type)
                headers[n++] = content_type;
        if (chunked)
                headers[n++] = "Transfer-Encoding: chunked";
        return http_do(d, "POST", BLOBS_PATH, headers, body, len, r);
}

/* Upload data as the single file part; returns the HTTP status. */
static long upload_ex(const struct daemon *d, const char *token, const void *data, size_t len,
                      bool chunked, struct http_result *ret)
{
        size_t blen;
        char *body = multipart_body(FILE_PART, data, len, CLOSE_TAIL, &blen);
        struct http_result r;

        assert_int_equal(post_blob_raw(d, token, MULTIPART_CT, body, blen, chunked, &r), 0);
        free(body);
        long status = r.status;
        if (ret)
                *ret = r;
        else
                http_result_free(&r);
        return status;
}

/* Upload and expect 200 {sha256, size} matching data. */
static void upload_ok(const struct daemon *d, const char *token, const void *data, size_t len,
                      char sha_out[65])
{
        struct http_result r;
        char sha[65];

        sha256_hex(data, len, sha);
        if (upload_ex(d, token, data, len, false, &r) != 200)
                fail_msg("upload of %zu bytes: %ld %s", len, r.status, r.body);
        assert_string_equal(json_string_value(json_object_get(r.json, "sha256")), sha);
        assert_int_equal(json_integer_value(json_object_get(r.json, "size")), len);
        http_result_free(&r);
        if (sha_out)
                memcpy(sha_out, sha, 65);
}

static int download(const struct daemon *d, const char *token, const char *sha, const char *range,
                    struct http_result *r)
{
        char path[128], auth[128], rh[128];
        const char *headers[3] = {auth, NULL, NULL};

        snprintf(path, sizeof(path), BLOBS_PATH "%s", sha);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        if (range) {
                snprintf(rh, sizeof(rh), "Range: %s", range);
                headers[1] = rh;
        }
        return http_do(d, "GET", path, headers, NULL, 0, r);
}

/* Download and expect exactly data. */
static void download_ok(const struct daemon *d, const char *token, const char *sha,
                        const void *data, size_t len)
{
        struct http_result r;

        assert_int_equal(download(d, token, sha, NULL, &r), 0);
        if (r.status != 200)
                fail_msg("download %s: %ld %s", sha, r.status, r.body);
        assert_int_equal(r.body_len, len);
        if (len)
                assert_memory_equal(r.body, data, len);
        char *v = http_result_header(&r, "Content-Type");
        assert_string_equal(v, "application/octet-stream");
        free(v);
        v = http_result_header(&r, "Content-Length");
        assert_int_equal(strtoull(v, NULL, 10), len);
        free(v);
        char want[128];
        snprintf(want, sizeof(want), "attachment; filename=\"%s\"", sha);
        v = http_result_header(&r, "Content-Disposition");
        assert_string_equal(v, want);
        free(v);
        http_result_free(&r);
}

static void expect_download_error(const struct daemon *d, const char *token, const char *sha,
                                  long status, const char *code)
{
        struct http_result r;

        assert_int_equal(download(d, token, sha, NULL, &r), 0);
        assert_http_error(&r, status, code);
        http_result_free(&r);
}

static int walk_files, walk_temp;
static long long walk_temp_bytes;

static int walk_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        const char *name = path + ftw->base;

        if (type == FTW_F && ftw->level == 1 && strncmp(name, ".upload-", 8) == 0) {
                walk_temp++;
                walk_temp_bytes += st->st_size;
        }
        if (type == FTW_F && ftw->level == 3 && strlen(name) == 64)
                walk_files++;
        return 0;
}

/* Count entries in the blob directory: content files and temp files. */
static void count_blob_files(const struct daemon *d, int *ret_files, int *ret_temp)
{
        char root[PATH_MAX + 16];

        snprintf(root, sizeof(root), "%s/blobs", d->data_dir);
        walk_files = walk_temp = 0;
        walk_temp_bytes = 0;
        assert_int_equal(nftw(root, walk_entry, 16, FTW_PHYS), 0);
        *ret_files = walk_files;
        if (ret_temp)
                *ret_temp = walk_temp;
}

static int count_temp_files(const struct daemon *d)
{
        int files, temp;
        count_blob_files(d, &files, &temp);
        return temp;
}

/* Wait until no upload temp file is left: up to 30 s, since a client that
 * vanished mid-body may only be noticed when its request times out
 * (HTTP_HEAD_TIMEOUT, 10 s) on a loaded machine. */
static void wait_no_temp(const struct daemon *d)
{
        struct harness_deadline dl = harness_deadline_in(30000);
        while (count_temp_files(d) > 0 && harness_pause(&dl))
                ;
        assert_int_equal(count_temp_files(d), 0);
}

static bool blob_file_exists(const struct daemon *d, const char *sha)
{
        char path[PATH_MAX + 128];
        struct stat st;

        snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", d->data_dir, sha, sha + 2, sha);
        return stat(path, &st) == 0;
}

/* --- raw sockets ------------------------------------------------------------- */

static int raw_connect(const struct daemon *d)
{
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
        struct timeval tv = {.tv_sec = 10};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static void raw_send(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                assert_true(n > 0);
                p += n;
                len -= (size_t)n;
        }
}

/* Read the whole answer (the server closes: Connection: close) and return
 * its status; the body is copied to body (NUL-terminated). */
static long raw_answer(int fd, char *body, size_t size)
{
        char buf[16384];
        size_t len = 0;
        ssize_t n;
        long status = -1;

        while (len + 1 < sizeof(buf) && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
                return -1;
        const char *b = strstr(buf, "\r\n\r\n");
        snprintf(body, size, "%s", b ? b + 4 : "");
        return status;
}

/* --- setup ------------------------------------------------------------------- */

/* The upload caps have their own test (test_concurrent_upload_caps): here
 * they are raised, since racing clients may start their next upload
 * before the slot of the one just answered is given back. */
static const char shared_config[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                    "limits:\n"
                                    "  max_blob_bytes: 65536\n"
                                    "  max_uploads_per_user: 64\n"
                                    "  max_uploads_per_client: 64\n";

static int start_shared(void **state)
{
        struct daemon_options o = {.config_yaml = shared_config};
        (void)state;

        if (harness_start(&shared, &o) < 0)
                return -1;
        assert_int_equal(harness_add_user(&shared, "alice", "alice@example.com", "alice-password-1",
                                          true, false, NULL),
                         0);
        assert_int_equal(harness_add_user(&shared, "bob", "bob@example.com", "bob-password-22",
                                          true, false, NULL),
                         0);
        assert_int_equal(harness_add_user(&shared, "carol", "carol@example.com",
                                          "carol-password-333", true, false, NULL),
                         0);
        harness_pair_ok(&shared, "alice", "alice-password-1", "vault-a", tok_alice_a, NULL);
        harness_pair_ok(&shared, "alice", "alice-password-1", "vault-b", tok_alice_b, NULL);
        harness_pair_ok(&shared, "bob", "bob-password-22", "vault-a", tok_bob, NULL);
        harness_pair_ok(&shared, "carol", "carol-password-333", "vault-c", tok_carol, NULL);
        harness_pair_ok(&shared, "alice", "alice-password-1", "vault-a", tok_doomed, NULL);
        return 0;
}

static int stop_shared(void **state)
{
        (void)state;
        harness_destroy(&shared);
        return 0;
}

/* --- tests on the shared daemon ---------------------------------------------- */

static void test_roundtrip_sizes(void **state)
{
        static const size_t sizes[] = {1, 1000, 0, MAX_BLOB, MAX_BLOB - 1, 4099};
        char sha[65];
        int files_before, files_after;
        (void)state;

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                unsigned char *data = random_bytes(sizes[i]);
                upload_ok(&shared, tok_alice_a, data, sizes[i], sha);
                download_ok(&shared, tok_alice_a, sha, data, sizes[i]);
                /* Again in the same scope: a no-op success. */
                upload_ok(&shared, tok_alice_a, data, sizes[i], NULL);
                assert_true(blob_file_exists(&shared, sha));
                free(data);
        }

        /* HEAD: the headers of GET, no body. */
        unsigned char *data = random_bytes(3000);
        upload_ok(&shared, tok_alice_a, data, 3000, sha);
        char path[128], auth[128];
        snprintf(path, sizeof(path), BLOBS_PATH "%s", sha);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok_alice_a);
        const char *h[] = {auth, NULL};
        struct http_result r;
        assert_int_equal(http_do(&shared, "HEAD", path, h, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        char *cl = http_result_header(&r, "Content-Length");
        assert_string_equal(cl, "3000");
        free(cl);
        http_result_free(&r);
        free(data);

        /* One byte over the limit: 413 whether the length is declared
         * (refused before the body is read) or streamed in chunks. */
        count_blob_files(&shared, &files_before, NULL);
        data = random_bytes(MAX_BLOB + 1);
        assert_int_equal(upload_ex(&shared, tok_alice_a, data, MAX_BLOB + 1, false, &r), 413);
        assert_string_equal(http_result_code(&r), "blob_too_large");
        http_result_free(&r);
        assert_int_equal(upload_ex(&shared, tok_alice_a, data, MAX_BLOB + 1, true, &r), 413);
        assert_string_equal(http_result_code(&r), "blob_too_large");
        http_result_free(&r);
        free(data);
        data = random_bytes(4 * MAX_BLOB);
        assert_int_equal(upload_ex(&shared, tok_alice_a, data, 4 * MAX_BLOB, true, &r), 413);
        assert_string_equal(http_result_code(&r), "blob_too_large");
        http_result_free(&r);
        free(data);
        wait_no_temp(&shared);
        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before);
}

static void expect_invalid_multipart(const char *content_type, const char *body, size_t len,
                                     bool chunked)
{
        struct http_result r;

        assert_int_equal(post_blob_raw(&shared, tok_alice_a, content_type, body, len, chunked, &r),
                         0);
        if (r.status != 400 || strcmp(http_result_code(&r), "invalid_multipart") != 0)
                fail_msg("expected 400 invalid_multipart for [%s]: %ld %s", body, r.status, r.body);
        http_result_free(&r);
}

static void test_invalid_multipart(void **state)
{
        size_t len;
        char *body;
        int files_before, files_after;
        (void)state;

        count_blob_files(&shared, &files_before, NULL);
        /* Not multipart. */
        expect_invalid_multipart("Content-Type: application/octet-stream", "abc", 3, false);
        expect_invalid_multipart(NULL, "abc", 3, false);
        expect_invalid_multipart("Content-Type: multipart/form-data", "abc", 3, false);
        /* No part. */
        body = "--" BOUNDARY "--\r\n";
        expect_invalid_multipart(MULTIPART_CT, body, strlen(body), false);
        expect_invalid_multipart(MULTIPART_CT, "", 0, false);
        /* Another field name. */
        body = multipart_body("Content-Disposition: form-data; name=\"data\"; filename=\"a\"\r\n",
                              "xyz", 3, CLOSE_TAIL, &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, false);
        free(body);
        /* No filename (and an empty one). */
        body = multipart_body("Content-Disposition: form-data; name=\"file\"\r\n", "xyz", 3,
                              CLOSE_TAIL, &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, true);
        free(body);
        body = multipart_body("Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n",
                              "xyz", 3, CLOSE_TAIL, &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, false);
        free(body);
        /* A second part (of either name). */
        body = multipart_body(FILE_PART, "first", 5,
                              "\r\n--" BOUNDARY "\r\n" FILE_PART "\r\nsecond" CLOSE_TAIL, &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, false);
        free(body);
        body = multipart_body(
                FILE_PART, "first", 5,
                "\r\n--" BOUNDARY
                "\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx" CLOSE_TAIL,
                &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, true);
        free(body);
        /* Cut short: no closing boundary. */
        body = multipart_body(FILE_PART, "partial", 7, "", &len);
        expect_invalid_multipart(MULTIPART_CT, body, len, false);
        free(body);
        /* Garbage. */
        expect_invalid_multipart(MULTIPART_CT, "hello world", 11, false);

        wait_no_temp(&shared);
        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before);
}

static void test_download_errors(void **state)
{
        struct http_result r;
        char path[160], auth[128];
        (void)state;

        expect_download_error(&shared, tok_alice_a, "abc", 400, "invalid_blob_hash");
        expect_download_error(&shared, tok_alice_a,
                              "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                              400, "invalid_blob_hash");
        expect_download_error(&shared, tok_alice_a,
                              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
                              400, "invalid_blob_hash");
        expect_download_error(&shared, tok_alice_a,
                              "zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                              400, "invalid_blob_hash");
        expect_download_error(&shared, tok_alice_a,
                              "00000000000000000000000000000000000000000000000000000000000000aa",
                              404, "blob_not_found");

        /* Without a token; with a wrong one. */
        snprintf(path, sizeof(path), BLOBS_PATH "%064d", 0);
        assert_int_equal(http_get(&shared, path, NULL, &r), 0);
        assert_http_error(&r, 401, "unauthorized");
        http_result_free(&r);
        assert_int_equal(http_get(&shared, path, "f00d", &r), 0);
        assert_http_error(&r, 401, "unauthorized");
        http_result_free(&r);
        assert_int_equal(post_blob_raw(&shared, NULL, MULTIPART_CT, "x", 1, false, &r), 0);
        assert_http_error(&r, 401, "unauthorized");
        assert_string_equal(http_result_error(&r), "API key required");
        http_result_free(&r);

        /* Other methods. */
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok_alice_a);
        const char *h[] = {auth, NULL};
        assert_int_equal(http_do(&shared, "DELETE", path, h, NULL, 0, &r), 0);
        assert_http_error(&r, 405, "method_not_allowed");
        char *allow = http_result_header(&r, "Allow");
        assert_non_null(strstr(allow, "GET"));
        free(allow);
        http_result_free(&r);
        assert_int_equal(http_do(&shared, "PUT", BLOBS_PATH, h, "x", 1, &r), 0);
        assert_http_error(&r, 405, "method_not_allowed");
        allow = http_result_header(&r, "Allow");
        assert_string_equal(allow, "POST");
        free(allow);
        http_result_free(&r);
        assert_int_equal(http_do(&shared, "GET", BLOBS_PATH, h, NULL, 0, &r), 0);
        assert_http_error(&r, 405, "method_not_allowed");
        http_result_free(&r);
}

static void expect_range(const char *sha, const unsigned char *data, size_t size, const char *range,
                         long status, size_t start, size_t len)
{
        struct http_result r;
        char want[96];

        assert_int_equal(download(&shared, tok_alice_a, sha, range, &r), 0);
        if (r.status != status)
                fail_msg("range %s: %ld", range, r.status);
        char *cr = http_result_header(&r, "Content-Range");
        if (status == 206) {
                snprintf(want, sizeof(want), "bytes %zu-%zu/%zu", start, start + len - 1, size);
                assert_string_equal(cr, want);
                assert_int_equal(r.body_len, len);
                assert_memory_equal(r.body, data + start, len);
        } else if (status == 416) {
                snprintf(want, sizeof(want), "bytes */%zu", size);
                assert_string_equal(cr, want);
                assert_string_equal(http_result_code(&r), "range_not_satisfiable");
        } else {
                assert_null(cr);
                assert_int_equal(r.body_len, size);
        }
        free(cr);
        http_result_free(&r);
}

static void test_ranges(void **state)
{
        const size_t n = 10000;
        unsigned char *data = random_bytes(n);
        char sha[65], empty_sha[65];
        (void)state;

        upload_ok(&shared, tok_alice_a, data, n, sha);
        expect_range(sha, data, n, "bytes=0-99", 206, 0, 100);
        expect_range(sha, data, n, "bytes=5000-5099", 206, 5000, 100);
        expect_range(sha, data, n, "bytes=9900-9999", 206, 9900, 100);
        expect_range(sha, data, n, "bytes=9990-", 206, 9990, 10);
        expect_range(sha, data, n, "bytes=9990-20000", 206, 9990, 10);
        expect_range(sha, data, n, "bytes=-10", 206, 9990, 10);
        expect_range(sha, data, n, "bytes=-1", 206, 9999, 1);
        expect_range(sha, data, n, "bytes=-20000", 206, 0, n);
        expect_range(sha, data, n, "bytes=0-0", 206, 0, 1);
        expect_range(sha, data, n, "bytes=10000-", 416, 0, 0);
        expect_range(sha, data, n, "bytes=10000-10005", 416, 0, 0);
        expect_range(sha, data, n, "bytes=-0", 416, 0, 0);
        expect_range(sha, data, n, "bytes=0-1,5-6", 200, 0, n);
        expect_range(sha, data, n, "bytes=7-3", 200, 0, n);
        expect_range(sha, data, n, "pages=1-2", 200, 0, n);

        /* If-Range with another validator: the whole blob. */
        struct http_result r;
        char path[128], auth[128];
        snprintf(path, sizeof(path), BLOBS_PATH "%s", sha);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok_alice_a);
        const char *h[] = {auth, "Range: bytes=0-9", "If-Range: \"other\"", NULL};
        assert_int_equal(http_do(&shared, "GET", path, h, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, n);
        http_result_free(&r);

        /* The empty blob has no satisfiable range. */
        upload_ok(&shared, tok_alice_a, "", 0, empty_sha);
        assert_int_equal(download(&shared, tok_alice_a, empty_sha, "bytes=0-", &r), 0);
        assert_int_equal(r.status, 416);
        char *cr = http_result_header(&r, "Content-Range");
        assert_string_equal(cr, "bytes */0");
        free(cr);
        http_result_free(&r);
        free(data);
}

static void test_scoped_dedup(void **state)
{
        unsigned char *data = random_bytes(20000);
        char sha[65];
        int files_before, files_after;
        (void)state;

        count_blob_files(&shared, &files_before, NULL);
        upload_ok(&shared, tok_alice_a, data, 20000, sha);
        download_ok(&shared, tok_alice_a, sha, data, 20000);
        /* Invisible to another vault of the same user and to another user. */
        expect_download_error(&shared, tok_alice_b, sha, 404, "blob_not_found");
        expect_download_error(&shared, tok_bob, sha, 404, "blob_not_found");

        /* Bob uploads the same content: his own reference, one file. */
        upload_ok(&shared, tok_bob, data, 20000, NULL);
        download_ok(&shared, tok_bob, sha, data, 20000);
        expect_download_error(&shared, tok_alice_b, sha, 404, "blob_not_found");
        upload_ok(&shared, tok_alice_b, data, 20000, NULL);
        download_ok(&shared, tok_alice_b, sha, data, 20000);

        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before + 1);
        assert_int_equal(harness_sql_int(&shared,
                                         "SELECT count(*) FROM server_blob_refs WHERE sha256 = %Q",
                                         sha),
                         3);
        assert_int_equal(harness_sql_int(&shared,
                                         "SELECT count(*) FROM server_blobs WHERE sha256 = %Q",
                                         sha),
                         1);
        free(data);
}

static void test_chunked_upload(void **state)
{
        const size_t n = 50000;
        unsigned char *data = random_bytes(n);
        char sha[65], head[512], answer[1024];
        struct http_result r;
        size_t blen;
        (void)state;

        /* libcurl's chunked encoding, as the desktop client sends it. */
        sha256_hex(data, n, sha);
        assert_int_equal(upload_ex(&shared, tok_alice_a, data, n, true, &r), 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "sha256")), sha);
        http_result_free(&r);
        download_ok(&shared, tok_alice_a, sha, data, n);

        /* Hand-made chunks of awkward sizes, no Content-Length. */
        unsigned char *data2 = random_bytes(n);
        char sha2[65];
        sha256_hex(data2, n, sha2);
        char *body = multipart_body(FILE_PART, data2, n, CLOSE_TAIL, &blen);
        int fd = raw_connect(&shared);
        int hn = snprintf(head, sizeof(head),
                          "POST " BLOBS_PATH " HTTP/1.1\r\nHost: localhost\r\n"
                          "Authorization: Bearer %s\r\n" MULTIPART_CT "\r\n"
                          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                          tok_bob);
        raw_send(fd, head, (size_t)hn);
        for (size_t off = 0, k = 1; off < blen; k = k * 3 % 1777 + 1) {
                size_t c = k > blen - off ? blen - off : k;
                hn = snprintf(head, sizeof(head), "%zx\r\n", c);
                raw_send(fd, head, (size_t)hn);
                raw_send(fd, body + off, c);
                raw_send(fd, "\r\n", 2);
                off += c;
        }
        raw_send(fd, "0\r\n\r\n", 5);
        assert_int_equal(raw_answer(fd, answer, sizeof(answer)), 200);
        assert_non_null(strstr(answer, sha2));
        close(fd);
        download_ok(&shared, tok_bob, sha2, data2, n);
        free(body);
        free(data);
        free(data2);
}

/* Start an upload on a raw socket, send half of it, wait until the daemon
 * writes its temp file, then hang up. */
static void abort_upload(bool chunked)
{
        const size_t n = 60000;
        unsigned char *data = random_bytes(n);
        char head[512], sha[65];
        size_t blen;
        char *body = multipart_body(FILE_PART, data, n, CLOSE_TAIL, &blen);
        int fd = raw_connect(&shared), hn;

        sha256_hex(data, n, sha);
        if (chunked)
                hn = snprintf(head, sizeof(head),
                              "POST " BLOBS_PATH " HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: Bearer %s\r\n" MULTIPART_CT "\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                              tok_alice_a, blen / 2);
        else
                hn = snprintf(head, sizeof(head),
                              "POST " BLOBS_PATH " HTTP/1.1\r\nHost: x\r\n"
                              "Authorization: Bearer %s\r\n" MULTIPART_CT "\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              tok_alice_a, blen);
        raw_send(fd, head, (size_t)hn);
        raw_send(fd, body, blen / 2);
        struct harness_deadline dl = harness_deadline_in(15000);
        while (count_temp_files(&shared) == 0 && harness_pause(&dl))
                ;
        assert_int_equal(count_temp_files(&shared), 1);
        close(fd);
        wait_no_temp(&shared);
        assert_false(blob_file_exists(&shared, sha));
        free(body);
        free(data);
}

static void test_abort_mid_body(void **state)
{
        int files_before, files_after;
        (void)state;

        count_blob_files(&shared, &files_before, NULL);
        abort_upload(false);
        abort_upload(true);
        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before);
        /* The daemon serves on. */
        unsigned char one = 42;
        upload_ok(&shared, tok_alice_a, &one, 1, NULL);
}

/* What needs no body is answered before the body is sent: a missing or
 * revoked token, a type that is not multipart, a declared length far
 * beyond the limit.  Only headers are sent here. */
static void test_early_answers(void **state)
{
        char auth[128], head[1024], answer[1024];
        const struct {
                const char *auth, *content_type, *code;
                long status;
        } cases[] = {
                {"", MULTIPART_CT "\r\n", "unauthorized", 401},
                {"Authorization: Bearer 0000\r\n", MULTIPART_CT "\r\n", "unauthorized", 401},
                {auth, "Content-Type: text/plain\r\n", "invalid_multipart", 400},
                {auth, MULTIPART_CT "\r\n", "blob_too_large", 413},
        };
        (void)state;

        snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", tok_alice_a);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int fd = raw_connect(&shared);
                int n = snprintf(head, sizeof(head),
                                 "POST " BLOBS_PATH " HTTP/1.1\r\nHost: x\r\n%s%s"
                                 "Content-Length: 1000000000\r\nConnection: close\r\n\r\n",
                                 cases[i].auth, cases[i].content_type);
                raw_send(fd, head, (size_t)n);
                assert_int_equal(raw_answer(fd, answer, sizeof(answer)), cases[i].status);
                assert_non_null(strstr(answer, cases[i].code));
                close(fd);
        }
        wait_no_temp(&shared);
}

/* A chunked upload that goes on far past the limit is cut off: the file
 * is dropped at the limit, a bounded excess is read, then the connection
 * is closed under the sender. */
static void test_cut_off_far_over_limit(void **state)
{
        const size_t total = 16u * 1024 * 1024, piece = 64 * 1024;
        unsigned char *data = random_bytes(piece);
        char head[1024], answer[1024];
        size_t sent = 0;
        int files_before, files_after;
        int fd = raw_connect(&shared);
        (void)state;

        count_blob_files(&shared, &files_before, NULL);
        int n = snprintf(head, sizeof(head),
                         "POST " BLOBS_PATH " HTTP/1.1\r\nHost: x\r\n"
                         "Authorization: Bearer %s\r\n" MULTIPART_CT "\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         tok_alice_a);
        raw_send(fd, head, (size_t)n);
        n = snprintf(head, sizeof(head), "%x\r\n--" BOUNDARY "\r\n" FILE_PART "\r\n\r\n",
                     (unsigned)(strlen("--" BOUNDARY "\r\n" FILE_PART "\r\n")));
        raw_send(fd, head, (size_t)n);
        while (sent < total) {
                n = snprintf(head, sizeof(head), "%zx\r\n", piece);
                if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
                    send(fd, data, piece, MSG_NOSIGNAL) != (ssize_t)piece ||
                    send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2)
                        break;
                sent += piece;
        }
        assert_true(sent < total);
        long status = raw_answer(fd, answer, sizeof(answer));
        assert_true(status == 413 || status == -1);
        close(fd);
        wait_no_temp(&shared);
        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before);
        free(data);
}

/* Push one file op with payload; returns 200, or -1 blob_not_owned, -2
 * invalid_blob_reference, -3 inline_binary_forbidden, else the status. */
static long push(const char *token, const char *payload_json)
{
        static int n;
        char op_id[32];
        struct http_result r;
        long status;

        snprintf(op_id, sizeof(op_id), "blob-op-%d", ++n);
        json_t *body = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s}]}", "ops", "op_id", op_id,
                                 "entity_type", "file", "entity_id", "files/x.bin", "op_type",
                                 "create", "payload_json", payload_json);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        assert_int_equal(http_post_json(&shared, "/api/v1/sync/push", token, text, &r), 0);
        free(text);
        status = r.status;
        if (status == 200)
                assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 1);
        else if (status == 400) {
                const char *code = http_result_code(&r);
                status = strcmp(code, "blob_not_owned") == 0            ? -1
                         : strcmp(code, "invalid_blob_reference") == 0  ? -2
                         : strcmp(code, "inline_binary_forbidden") == 0 ? -3
                                                                        : status;
        }
        http_result_free(&r);
        return status;
}

static void test_push_blob_refs(void **state)
{
        unsigned char *data = random_bytes(777);
        char sha[65], bob_sha[65], payload[256];
        (void)state;

        upload_ok(&shared, tok_alice_a, data, 777, sha);
        unsigned char *bdata = random_bytes(555);
        upload_ok(&shared, tok_bob, bdata, 555, bob_sha);

        snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":777}}", sha);
        assert_int_equal(push(tok_alice_a, payload), 200);
        /* Another vault of the same user has not uploaded it. */
        assert_int_equal(push(tok_alice_b, payload), -1);
        snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":778}}", sha);
        assert_int_equal(push(tok_alice_a, payload), -2);
        snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":555}}", bob_sha);
        assert_int_equal(push(tok_alice_a, payload), -1);
        assert_int_equal(push(tok_bob, payload), 200);
        assert_int_equal(push(tok_alice_a, "{\"blob\":{\"sha256\":\"ABC\",\"size\":1}}"), -2);
        snprintf(payload, sizeof(payload), "{\"blob\":{\"sha256\":\"%s\",\"size\":-1}}", sha);
        assert_int_equal(push(tok_alice_a, payload), -2);
        assert_int_equal(push(tok_alice_a, "{\"dataBase64\":\"aGVsbG8=\"}"), -3);
        free(data);
        free(bdata);
}

/* A confirmed user whose password is "<name>-password-1", and a device
 * of theirs paired to vault. */
static void add_user_ok(const struct daemon *d, const char *name)
{
        char email[64], password[64];

        snprintf(email, sizeof(email), "%s@example.com", name);
        snprintf(password, sizeof(password), "%s-password-1", name);
        assert_int_equal(harness_add_user(d, name, email, password, true, false, NULL), 0);
}

static void pair_ok(const struct daemon *d, const char *name, const char *vault, char token[65])
{
        char password[64];

        snprintf(password, sizeof(password), "%s-password-1", name);
        harness_pair_ok(d, name, password, vault, token, NULL);
}

/* Uploads of one body from a thread of its own: rounds of them, every
 * second one chunked. */
struct racer {
        const struct daemon *d;
        const char *token;
        const unsigned char *data;
        size_t len;
        int rounds;
        int ok; /* how many were answered 200 */
};

/* No cmocka assertions here: they must not run on other threads. */
static void *race_upload(void *arg)
{
        struct racer *r = arg;
        size_t blen;
        char *body = multipart_body(FILE_PART, r->data, r->len, CLOSE_TAIL, &blen);

        for (int i = 0; i < r->rounds; i++) {
                struct http_result res;
                if (post_blob_raw(r->d, r->token, MULTIPART_CT, body, blen, i % 2 == 1, &res) ==
                    0) {
                        r->ok += res.status == 200;
                        http_result_free(&res);
                }
        }
        free(body);
        return NULL;
}

static void test_concurrent_same_content(void **state)
{
        const size_t n = 40000;
        unsigned char *data = random_bytes(n);
        const char *tokens[] = {tok_alice_a, tok_alice_b, tok_bob, tok_carol};
        struct racer rs[4];
        pthread_t th[4];
        int files_before, files_after;
        char sha[65];
        (void)state;

        count_blob_files(&shared, &files_before, NULL);
        sha256_hex(data, n, sha);
        for (int i = 0; i < 4; i++) {
                rs[i] = (struct racer){&shared, tokens[i], data, n, 6, 0};
                assert_int_equal(pthread_create(&th[i], NULL, race_upload, &rs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(rs[i].ok, 6);
                download_ok(&shared, tokens[i], sha, data, n);
        }
        count_blob_files(&shared, &files_after, NULL);
        assert_int_equal(files_after, files_before + 1);
        wait_no_temp(&shared);
        free(data);
}

/* Uploads past the blob store's BLOB_HELP_AFTER (1 MiB) are written and
 * hashed by its helper threads while the next buffer arrives.  Four at
 * once, two of one content and two of others, chunked or not, each three
 * times (so over the file already stored), all come back byte for byte
 * and leave one file per content; one abandoned after several buffers
 * leaves nothing behind. */
static void test_large_uploads(void **state)
{
        static const char cfg[] = "trusted_proxies: [\"127.0.0.1\"]\n";
        const size_t big = 3u * 1024 * 1024 + 12345;
        struct daemon_options o = {.config_yaml = cfg};
        struct daemon d = {0};
        struct racer rs[4];
        pthread_t th[4];
        char tok[4][65], sha[65];
        unsigned char *same = random_bytes(big), *own[2] = {random_bytes(big), random_bytes(big)};
        int files;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        add_user_ok(&d, "gus");
        add_user_ok(&d, "hal");
        pair_ok(&d, "gus", "v1", tok[0]);
        pair_ok(&d, "hal", "v1", tok[1]);
        pair_ok(&d, "gus", "v2", tok[2]);
        pair_ok(&d, "hal", "v2", tok[3]);
        for (int i = 0; i < 4; i++) {
                rs[i] = (struct racer){&d, tok[i], i < 2 ? same : own[i - 2], big, 3, 0};
                assert_int_equal(pthread_create(&th[i], NULL, race_upload, &rs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(rs[i].ok, 3);
                sha256_hex(rs[i].data, big, sha);
                download_ok(&d, tok[i], sha, rs[i].data, big);
        }
        wait_no_temp(&d);
        count_blob_files(&d, &files, NULL);
        assert_int_equal(files, 3);

        /* Abandoned after helpers wrote some of it. */
        unsigned char *lost = random_bytes(big);
        size_t blen;
        char *body = multipart_body(FILE_PART, lost, big, CLOSE_TAIL, &blen);
        char head[512];
        int fd = raw_connect(&d);
        int hn = snprintf(head, sizeof(head),
                          "POST " BLOBS_PATH " HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\n" MULTIPART_CT "\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          tok[0], blen);
        raw_send(fd, head, (size_t)hn);
        raw_send(fd, body, 2u * 1024 * 1024);
        struct harness_deadline dl = harness_deadline_in(15000);
        do
                count_blob_files(&d, &files, NULL);
        while (walk_temp_bytes < 1536 * 1024 && harness_pause(&dl));
        assert_true(walk_temp_bytes >= 1536 * 1024);
        close(fd);
        wait_no_temp(&d);
        sha256_hex(lost, big, sha);
        assert_false(blob_file_exists(&d, sha));
        count_blob_files(&d, &files, NULL);
        assert_int_equal(files, 3);

        /* The helpers are joined at a clean stop. */
        assert_int_equal(harness_stop(&d, SIGTERM, 20, NULL), 0);
        harness_destroy(&d);
        free(body);
        free(lost);
        free(same);
        free(own[0]);
        free(own[1]);
}

static void test_last_accessed(void **state)
{
        unsigned char *data = random_bytes(100);
        char sha[65];
        (void)state;

        upload_ok(&shared, tok_alice_a, data, 100, sha);
        /* A day ago (relative to now: the suite also runs with the clock
         * a year ahead); the download moves it to now. */
        char day_ago[32], hour_ago[32];
        harness_time_ago(day_ago, 86400);
        harness_time_ago(hour_ago, 3600);
        harness_sql(&shared, "UPDATE server_blob_refs SET last_accessed = %Q WHERE sha256 = %Q",
                    day_ago, sha);
        download_ok(&shared, tok_alice_a, sha, data, 100);
        assert_int_equal(harness_sql_int(&shared,
                                         "SELECT count(*) FROM server_blob_refs WHERE sha256 = %Q"
                                         " AND last_accessed > %Q",
                                         sha, hour_ago),
                         1);
        free(data);
}

static void test_revoked_device(void **state)
{
        unsigned char *data = random_bytes(100);
        char sha[65];
        struct http_result r;
        (void)state;

        upload_ok(&shared, tok_doomed, data, 100, sha);
        assert_int_equal(
                http_post_json(&shared, "/api/client/revoke-current", tok_doomed, "{}", &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(download(&shared, tok_doomed, sha, NULL, &r), 0);
        assert_http_error(&r, 401, "unauthorized");
        assert_string_equal(http_result_error(&r), "device revoked");
        http_result_free(&r);
        assert_int_equal(upload_ex(&shared, tok_doomed, data, 100, false, &r), 401);
        assert_string_equal(http_result_error(&r), "device revoked");
        http_result_free(&r);
        /* The other device of the scope still sees the blob. */
        download_ok(&shared, tok_alice_a, sha, data, 100);
        free(data);
}

static void test_blocked_user(void **state)
{
        unsigned char *data = random_bytes(100);
        char sha[65];
        struct http_result r;
        (void)state;

        upload_ok(&shared, tok_carol, data, 100, sha);
        harness_sql(&shared, "UPDATE server_users SET blocked = 1 WHERE username = 'carol'");
        assert_int_equal(download(&shared, tok_carol, sha, NULL, &r), 0);
        assert_http_error(&r, 403, "forbidden");
        assert_string_equal(http_result_error(&r), "user blocked");
        http_result_free(&r);
        assert_int_equal(upload_ex(&shared, tok_carol, data, 100, true, &r), 403);
        assert_string_equal(http_result_error(&r), "user blocked");
        http_result_free(&r);
        harness_sql(&shared, "UPDATE server_users SET blocked = 0 WHERE username = 'carol'");
        download_ok(&shared, tok_carol, sha, data, 100);
        free(data);
}

/* --- tests with their own daemon ------------------------------------------------ */

static void test_quotas(void **state)
{
        static const char config[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                     "limits:\n"
                                     "  max_blob_bytes: 65536\n"
                                     "  max_vault_blob_bytes: 100000\n"
                                     "  max_user_blob_bytes: 150000\n";
        struct daemon_options o = {.config_yaml = config};
        struct daemon d = {0};
        char dan_a[65], dan_b[65], erin[65], sha[65], shared_sha[65];
        struct http_result r;
        int files;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(
                harness_add_user(&d, "dan", "dan@example.com", "dan-password-4", true, false, NULL),
                0);
        assert_int_equal(harness_add_user(&d, "erin", "erin@example.com", "erin-password-5", true,
                                          false, NULL),
                         0);
        harness_pair_ok(&d, "dan", "dan-password-4", "a", dan_a, NULL);
        harness_pair_ok(&d, "dan", "dan-password-4", "b", dan_b, NULL);
        harness_pair_ok(&d, "erin", "erin-password-5", "a", erin, NULL);

        unsigned char *b60 = random_bytes(60000), *b40 = random_bytes(40000),
                      *b50 = random_bytes(50000), *b30 = random_bytes(30000);
        unsigned char one = 7;
        upload_ok(&d, dan_a, b60, 60000, sha);
        upload_ok(&d, dan_a, b40, 40000, NULL); /* the vault is exactly full */
        assert_int_equal(upload_ex(&d, dan_a, &one, 1, false, &r), 413);
        assert_string_equal(http_result_code(&r), "quota_exceeded");
        http_result_free(&r);
        upload_ok(&d, dan_a, b60, 60000, NULL); /* already there: no-op */
        download_ok(&d, dan_a, sha, b60, 60000);

        upload_ok(&d, dan_b, b50, 50000, NULL); /* the user is exactly full */
        assert_int_equal(upload_ex(&d, dan_b, &one, 1, true, &r), 413);
        assert_string_equal(http_result_code(&r), "quota_exceeded");
        http_result_free(&r);

        /* Over quota with content another user holds: that file stays. */
        upload_ok(&d, erin, b30, 30000, shared_sha);
        assert_int_equal(upload_ex(&d, dan_b, b30, 30000, false, &r), 413);
        assert_string_equal(http_result_code(&r), "quota_exceeded");
        http_result_free(&r);
        /* Its Content-Length already exceeded what was left: the body was
         * hashed (to recognise a blob the scope holds), never stored. */
        assert_true(harness_wait_log(&d, "EVENT=blob_quota_exceeded_unstored", 5000));
        download_ok(&d, erin, shared_sha, b30, 30000);
        expect_download_error(&d, dan_b, shared_sha, 404, "blob_not_found");

        /* Rejected uploads left nothing: four files, no temp files. */
        wait_no_temp(&d);
        count_blob_files(&d, &files, NULL);
        assert_int_equal(files, 4);
        char sha_one[65];
        sha256_hex(&one, 1, sha_one);
        assert_false(blob_file_exists(&d, sha_one));
        harness_destroy(&d);
        free(b60);
        free(b40);
        free(b50);
        free(b30);
}

/* Push one op on d with token; returns the status. */
static long push_on(const struct daemon *d, const char *token, const char *op_id)
{
        struct http_result r;
        char body[512];
        long status;

        snprintf(body, sizeof(body),
                 "{\"ops\":[{\"op_id\":\"%s\",\"entity_type\":\"file\","
                 "\"entity_id\":\"files/r.txt\",\"op_type\":\"create\","
                 "\"payload_json\":\"{}\"}]}",
                 op_id);
        assert_int_equal(http_post_json(d, "/api/v1/sync/push", token, body, &r), 0);
        status = r.status;
        if (status == 507)
                assert_string_equal(http_result_code(&r), "insufficient_storage");
        http_result_free(&r);
        return status;
}

/* Below the free-space reserve, uploads and pushes get 507 while
 * downloads and pulls keep working.  A reserve of 100 % of the data
 * filesystem is never available, whatever this machine's disk holds. */
static void test_storage_reserve(void **state)
{
        static const char roomy[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                    "limits:\n  disk_reserve_bytes: 0\n";
        static const char full[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                   "limits:\n  disk_reserve_bytes: 4611686018427387904\n"
                                   "  disk_reserve_percent: 100\n";
        struct daemon_options o = {.config_yaml = roomy};
        struct daemon d = {0};
        struct http_result r;
        char tok[65], sha[65];
        unsigned char data[1000];
        (void)state;

        memset(data, 'r', sizeof(data));
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(
                harness_add_user(&d, "fay", "fay@example.com", "fay-password-6", true, false, NULL),
                0);
        harness_pair_ok(&d, "fay", "fay-password-6", "v", tok, NULL);
        upload_ok(&d, tok, data, sizeof(data), sha);
        assert_int_equal(push_on(&d, tok, "reserve-1"), 200);
        assert_int_equal(harness_stop(&d, SIGTERM, 20, NULL), 0);

        assert_int_equal(harness_write_config(&d, full), 0);
        o.config_yaml = NULL;
        assert_int_equal(harness_start(&d, &o), 0);
        data[0] = 'x';
        assert_int_equal(upload_ex(&d, tok, data, sizeof(data), false, &r), 507);
        assert_string_equal(http_result_code(&r), "insufficient_storage");
        http_result_free(&r);
        assert_int_equal(upload_ex(&d, tok, data, sizeof(data), true, &r), 507);
        http_result_free(&r);
        assert_int_equal(push_on(&d, tok, "reserve-2"), 507);
        /* Reads still work. */
        data[0] = 'r';
        download_ok(&d, tok, sha, data, sizeof(data));
        assert_int_equal(http_post_json(&d, "/api/v1/sync/pull", tok, "{\"since_sequence\":0}", &r),
                         0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(json_object_get(r.json, "ops")), 1);
        http_result_free(&r);
        assert_int_equal(count_temp_files(&d), 0);
        harness_destroy(&d);
}

/* Begin an upload on a raw connection and hold it: headers and a first
 * piece of the body, after the server's 100 Continue (its answer to the
 * request's start, so the upload is counted by then). */
static int hold_upload(const struct daemon *d, const char *token)
{
        char head[512], buf[64] = "";
        int fd = raw_connect(d);

        snprintf(head, sizeof(head),
                 "POST " BLOBS_PATH
                 " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n" MULTIPART_CT
                 "\r\nContent-Length: 60000\r\nExpect: 100-continue\r\n\r\n",
                 token);
        raw_send(fd, head, strlen(head));
        assert_true(recv(fd, buf, sizeof(buf) - 1, 0) > 0);
        if (strncmp(buf, "HTTP/1.1 100", 12) != 0)
                fail_msg("expected 100 Continue, got: %s", buf);
        raw_send(fd, "--" BOUNDARY "\r\n", strlen(BOUNDARY) + 4);
        return fd;
}

/* Upload one byte as token from forwarded address ip (NULL: none). */
static long upload_from(const struct daemon *d, const char *token, const char *ip,
                        unsigned char byte)
{
        char auth[128], xff[64];
        const char *headers[4] = {auth, MULTIPART_CT, NULL, NULL};
        struct http_result r;
        size_t blen;
        char *body = multipart_body(FILE_PART, &byte, 1, CLOSE_TAIL, &blen);
        long status;

        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        if (ip) {
                snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", ip);
                headers[2] = xff;
        }
        assert_int_equal(http_do(d, "POST", BLOBS_PATH, headers, body, blen, &r), 0);
        free(body);
        status = r.status;
        if (status == 429)
                assert_string_equal(http_result_code(&r), "too_many_uploads");
        http_result_free(&r);
        return status;
}

/* Concurrent uploads are capped per user and per client address, before
 * a byte is stored. */
static void test_concurrent_upload_caps(void **state)
{
        static const char config[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                     "limits:\n  max_uploads_per_user: 1\n"
                                     "  max_uploads_per_client: 2\n";
        struct daemon_options o = {.config_yaml = config};
        struct daemon d = {0};
        char gus[65], hal[65], ida[65];
        long status = 0;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        add_user_ok(&d, "gus");
        add_user_ok(&d, "hal");
        add_user_ok(&d, "ida");
        pair_ok(&d, "gus", "v", gus);
        pair_ok(&d, "hal", "v", hal);
        pair_ok(&d, "ida", "v", ida);

        int held_gus = hold_upload(&d, gus); /* from 127.0.0.1 */
        /* gus has his one upload running, from whatever address. */
        assert_int_equal(upload_from(&d, gus, "198.51.100.1", 1), 429);
        int held_hal = hold_upload(&d, hal); /* 127.0.0.1's second */
        /* 127.0.0.1 holds two: ida is refused there, served elsewhere. */
        assert_int_equal(upload_from(&d, ida, NULL, 2), 429);
        assert_int_equal(upload_from(&d, ida, "198.51.100.2", 3), 200);

        /* Once the held upload is gone, gus may upload again. */
        close(held_gus);
        struct harness_deadline dl = harness_deadline_in(15000);
        while (status != 200) {
                status = upload_from(&d, gus, "198.51.100.1", 4);
                if (status != 200) {
                        assert_int_equal(status, 429);
                        if (!harness_pause(&dl))
                                break;
                }
        }
        assert_int_equal(status, 200);
        close(held_hal);
        harness_destroy(&d);
}

static void test_retention_temp_files(void **state)
{
        struct daemon d = {0};
        char path[PATH_MAX + 64];
        time_t old = time(NULL) - 25 * 3600;
        struct timespec ts[2] = {{.tv_sec = old}, {.tv_sec = old}};
        struct timespec now[2] = {{.tv_sec = old + 25 * 3600}, {.tv_sec = old + 25 * 3600}};
        (void)state;

        assert_int_equal(harness_prepare(&d, NULL), 0);
        snprintf(path, sizeof(path), "%s/blobs", d.data_dir);
        assert_int_equal(mkdir(path, 0750), 0);
        snprintf(path, sizeof(path), "%s/blobs/.upload-crashed", d.data_dir);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
        snprintf(path, sizeof(path), "%s/blobs/.upload-recent", d.data_dir);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        /* Dated by this process's clock, not the file system's, so that
         * the test holds with the clock moved (faketime). */
        assert_int_equal(utimensat(AT_FDCWD, path, now, 0), 0);

        assert_int_equal(harness_start(&d, NULL), 0); /* retention runs at start */
        snprintf(path, sizeof(path), "%s/blobs/.upload-crashed", d.data_dir);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/blobs/.upload-recent", d.data_dir);
        assert_int_equal(access(path, F_OK), 0);
        assert_true(harness_log_contains(&d, "removed 1 stale upload files"));
        harness_destroy(&d);
}

/* Garbage collection on a data directory the daemon wrote: stop it, run
 * the collector through the library, start it again. */
static void test_gc_on_data_dir(void **state)
{
        struct daemon_options o = {.config_yaml = shared_config};
        struct store_options so = {.synchronous_full = true, .readers = 2};
        char tok[65], sha[65], orphan[65], path[PATH_MAX + 128];
        struct store *s;
        struct blob_store *bs;
        struct blob_orphans orphans;
        struct blob_gc_result res;
        struct daemon d = {0};
        (void)state;

        /* SQLite only: the test opens the data directory's server.db with the
         * store API beside the daemon. */
        if (harness_on_pg())
                skip();

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(
                harness_add_user(&d, "fay", "fay@example.com", "fay-password-6", true, false, NULL),
                0);
        harness_pair_ok(&d, "fay", "fay-password-6", "v", tok, NULL);
        unsigned char *data = random_bytes(5000), *junk = random_bytes(300);
        upload_ok(&d, tok, data, 5000, sha);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);

        /* An orphan file with its server_blobs row, made by hand. */
        sha256_hex(junk, 300, orphan);
        snprintf(path, sizeof(path), "%s/blobs/%.2s", d.data_dir, orphan);
        mkdir(path, 0750);
        snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s", d.data_dir, orphan, orphan + 2);
        mkdir(path, 0750);
        snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", d.data_dir, orphan, orphan + 2,
                 orphan);
        FILE *f = fopen(path, "w");
        fwrite(junk, 1, 300, f);
        fclose(f);
        harness_sql(&d,
                    "INSERT INTO server_blobs (sha256, size, created_at)"
                    " VALUES (%Q, 300, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now', '-2 days'))",
                    orphan);

        snprintf(path, sizeof(path), "%s/server.db", d.data_dir);
        assert_int_equal(store_open(path, &so, &s, NULL), 0);
        snprintf(path, sizeof(path), "%s/blobs", d.data_dir);
        assert_int_equal(blob_store_new(path, &bs), 0);
        assert_int_equal(blob_gc_count_orphans(s, bs, &orphans), 0);
        assert_int_equal(orphans.files, 1);
        assert_int_equal(orphans.bytes, 300);
        assert_int_equal(blob_gc_run(s, bs, &res), 0);
        assert_int_equal(res.files_removed, 1);
        assert_int_equal(res.bytes_freed, 300);
        assert_int_equal(res.rows_removed, 1);
        assert_int_equal(blob_gc_count_orphans(s, bs, &orphans), 0);
        assert_int_equal(orphans.files, 0);
        blob_store_free(bs);
        store_close(s);

        assert_false(blob_file_exists(&d, orphan));
        assert_true(blob_file_exists(&d, sha));
        assert_int_equal(harness_start(&d, &o), 0);
        download_ok(&d, tok, sha, data, 5000);
        harness_destroy(&d);
        free(data);
        free(junk);
}

/* Blobs written by the existing server open in place (the fixture's
 * devices and layout). */
static void test_legacy_blobs(void **state)
{
        static const char photo[] =
                "08227adf623421d974573ebd31f1207e7ba4a13d55d331897f041f6f53e0ed71";
        static const char hello[] =
                "7b2742f502d9f8432678f999b983214ecac04bbad9898b854ef973ed41290cee";
        static const char laptop[] =
                "bb047b65c59b3f457c8c1472943cd669693e445a13708740b18649f05640e33a";
        static const char notes[] =
                "0b73d59d43fcf346000c4ea2b752238953c37b73149833615bfdc9af56198ac8";
        static const char bob_phone[] =
                "2fc0ec8167eb9fcfa41743ce05f53ed18a4df96434177001d65c1133e0de92f7";
        char from[PATH_MAX], sha[65];
        struct daemon_options o = {.copy_data_from = from};
        struct http_result r;
        struct daemon d = {0};
        (void)state;

        snprintf(from, sizeof(from), "%s/tests/fixtures/legacy-data/data", harness_source_root());
        assert_int_equal(harness_start(&d, &o), 0);

        assert_int_equal(download(&d, laptop, photo, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 70000);
        sha256_hex(r.body, r.body_len, sha);
        assert_string_equal(sha, photo);
        http_result_free(&r);
        assert_int_equal(download(&d, notes, hello, "bytes=-10", &r), 0);
        assert_int_equal(r.status, 206);
        assert_int_equal(r.body_len, 10);
        http_result_free(&r);
        assert_int_equal(download(&d, notes, hello, NULL, &r), 0);
        assert_int_equal(r.body_len, 210);
        sha256_hex(r.body, r.body_len, sha);
        assert_string_equal(sha, hello);
        http_result_free(&r);
        expect_download_error(&d, notes, photo, 404, "blob_not_found");
        expect_download_error(&d, bob_phone, hello, 403, "forbidden");

        /* A new upload lands next to the old blobs; re-uploading an old
         * blob's content in its scope is a no-op. */
        unsigned char *data = random_bytes(1234);
        upload_ok(&d, laptop, data, 1234, sha);
        download_ok(&d, laptop, sha, data, 1234);
        harness_destroy(&d);
        free(data);
}

int main(void)
{
        const struct CMUnitTest on_shared[] = {
                cmocka_unit_test(test_roundtrip_sizes),
                cmocka_unit_test(test_invalid_multipart),
                cmocka_unit_test(test_download_errors),
                cmocka_unit_test(test_ranges),
                cmocka_unit_test(test_scoped_dedup),
                cmocka_unit_test(test_chunked_upload),
                cmocka_unit_test(test_abort_mid_body),
                cmocka_unit_test(test_early_answers),
                cmocka_unit_test(test_cut_off_far_over_limit),
                cmocka_unit_test(test_push_blob_refs),
                cmocka_unit_test(test_concurrent_same_content),
                cmocka_unit_test(test_large_uploads),
                cmocka_unit_test(test_last_accessed),
                cmocka_unit_test(test_revoked_device),
                cmocka_unit_test(test_blocked_user),
        };
        const struct CMUnitTest own[] = {
                cmocka_unit_test(test_quotas),
                cmocka_unit_test(test_storage_reserve),
                cmocka_unit_test(test_concurrent_upload_caps),
                cmocka_unit_test(test_retention_temp_files),
                cmocka_unit_test(test_gc_on_data_dir),
                cmocka_unit_test(test_legacy_blobs),
        };
        int failed;

        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
                return 1;
        failed = cmocka_run_group_tests_name("blobs-shared", on_shared, start_shared, stop_shared);
        failed += cmocka_run_group_tests_name("blobs", own, NULL, NULL);
        curl_global_cleanup();
        return failed;
}
