/* SPDX-License-Identifier: MIT */
/*
 * Integration: the daemon under conditions it does not control — the
 * database's write lock held by another process, a full filesystem, a
 * device revoked while its upload is in flight, hostile HTTP framing.
 * Each test is an attack of docs/hostile-inputs.md run against the real
 * binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define USER_PASSWORD "reliable-password-1"

/* Start a daemon with one user and one paired device. */
static void start_paired(struct daemon *d, const struct daemon_options *o, char *token)
{
        harness_note_secret(USER_PASSWORD);
        assert_int_equal(harness_start(d, o), 0);
        assert_int_equal(
                harness_add_user(d, "rel", "rel@example.com", USER_PASSWORD, true, false, NULL), 0);
        assert_int_equal(harness_pair(d, "rel", USER_PASSWORD, "vault-r", token, NULL), 200);
        harness_note_secret(token);
}

static void push_one(const struct daemon *d, const char *token, const char *op_id,
                     struct http_result *r)
{
        char body[512];

        snprintf(body, sizeof(body),
                 "{\"ops\":[{\"op_id\":\"%s\",\"entity_type\":\"note\",\"entity_id\":\"n1\","
                 "\"op_type\":\"update\",\"payload_json\":\"{}\",\"client_sequence\":1,"
                 "\"last_seen_server_seq\":0,\"created_at\":\"2026-07-01T10:00:00Z\"}]}",
                 op_id);
        assert_int_equal(http_post_json(d, "/api/v1/sync/push", token, body, r), 0);
}

/* GET path and return its status; the body is JSON with the given status
 * member when expect_status is not NULL. */
static long get_status(const struct daemon *d, const char *path, const char *expect_status)
{
        struct http_result r;
        long status;

        assert_int_equal(http_get(d, path, NULL, &r), 0);
        assert_non_null(r.json);
        if (expect_status)
                assert_string_equal(http_result_string(&r, "status"), expect_status);
        status = r.status;
        http_result_free(&r);
        return status;
}

/* A write lock held by another process: writes answer 503 unavailable
 * with Retry-After (never 500), readiness turns degraded, reads and
 * liveness keep answering, and everything recovers once it is released. */
static void test_write_lock_held_elsewhere(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {0};
        struct harness_db_lock lock;
        struct http_result r;
        char token[65];
        (void)state;

        start_paired(&d, &o, token);
        push_one(&d, token, "before-lock", &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(get_status(&d, "/readyz", "ok"), 200);

        assert_int_equal(harness_db_lock_take(&d, &lock), 0);

        /* A push cannot take the write lock in time. */
        push_one(&d, token, "during-lock", &r);
        http_assert_error(&r, 503, "unavailable", NULL);
        char *retry = http_result_header(&r, "Retry-After");
        assert_non_null(retry);
        assert_true(atoi(retry) >= 1);
        free(retry);
        http_result_free(&r);

        /* Neither can a login (it creates a session). */
        assert_int_equal(http_post_json(&d, "/api/v1/auth/login", NULL,
                                        "{\"username\":\"rel\",\"password\":\"" USER_PASSWORD "\"}",
                                        &r),
                         0);
        http_assert_error(&r, 503, "unavailable", NULL);
        http_result_free(&r);

        /* Readiness and health say so; liveness does not care. */
        assert_int_equal(get_status(&d, "/readyz", "degraded"), 503);
        assert_int_equal(http_get(&d, "/api/v1/health", NULL, &r), 0);
        assert_int_equal(r.status, 503);
        assert_true(json_is_false(json_object_get(r.json, "database_writable")));
        assert_true(json_is_true(json_object_get(r.json, "database_reachable")));
        http_result_free(&r);
        assert_int_equal(get_status(&d, "/livez", "ok"), 200);

        /* Reads do not wait for the writer: a pull (whose authentication
         * would refresh last_seen) and the device's own record. */
        assert_int_equal(
                http_post_json(&d, "/api/v1/sync/pull", token, "{\"since_sequence\":0}", &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(json_object_get(r.json, "ops")), 1);
        http_result_free(&r);
        assert_int_equal(http_get(&d, "/api/client/me", token, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        assert_int_equal(harness_db_lock_release(&lock), 0);

        /* Readiness recovers on its own (the background probe) ... */
        long status = 0;
        struct harness_deadline dl = harness_deadline_in(15000);
        do
                status = get_status(&d, "/readyz", NULL);
        while (status != 200 && harness_pause(&dl));
        assert_int_equal(status, 200);
        /* ... and writes work again. */
        push_one(&d, token, "after-lock", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 1);
        http_result_free(&r);
        harness_destroy(&d);
}

/* Push n ops from one device on entity eid (each n_ops long), the i-th
 * with op id "<prefix>-<i>", seen sequence seen; returns the answer. */
static void push_many(const struct daemon *d, const char *token, const char *prefix,
                      const char *eid, int n, long long seen, const char *key,
                      struct http_result *r)
{
        size_t cap = (size_t)n * (strlen(eid) + 512) + 256, off = 0;
        char *body = malloc(cap);

        assert_non_null(body);
        off += (size_t)snprintf(body + off, cap - off, "{%s%s%s\"ops\":[",
                                key ? "\"idempotency_key\":\"" : "", key ? key : "",
                                key ? "\"," : "");
        for (int i = 0; i < n; i++)
                off += (size_t)snprintf(
                        body + off, cap - off,
                        "%s{\"op_id\":\"%s-%d\",\"entity_type\":\"note\",\"entity_id\":\"%s\","
                        "\"op_type\":\"update\",\"payload_json\":\"{}\",\"client_sequence\":%d,"
                        "\"last_seen_server_seq\":%lld,\"created_at\":\"2026-07-01T10:00:00Z\"}",
                        i ? "," : "", prefix, i, eid, i + 1, seen);
        snprintf(body + off, cap - off, "]}");
        assert_int_equal(http_post_json(d, "/api/v1/sync/push", token, body, r), 0);
        assert_int_equal(r->status, 200);
        free(body);
}

/* Conflict hints are bounded per pushed op whatever the entity's history:
 * the newest ten, ascending, and conflicts_truncated; an idempotency
 * record too large to keep whole is kept without its hints. */
static void test_conflicts_bounded(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {0};
        struct http_result r;
        char tok_a[65], tok_b[65];
        (void)state;

        start_paired(&d, &o, tok_a);
        assert_int_equal(harness_pair(&d, "rel", USER_PASSWORD, "vault-r", tok_b, NULL), 200);
        harness_note_secret(tok_b);

        /* 40 earlier ops on one entity from device B (sequences 1..40). */
        push_many(&d, tok_b, "b", "hot", 40, 0, NULL, &r);
        http_result_free(&r);
        /* Two ops from A that saw sequence 1: each gets the newest ten. */
        push_many(&d, tok_a, "a", "hot", 2, 1, NULL, &r);
        json_t *conflicts = json_object_get(r.json, "conflicts");
        assert_true(json_is_array(conflicts));
        assert_int_equal(json_array_size(conflicts), 20);
        for (size_t i = 0; i < 10; i++) {
                json_t *c = json_array_get(conflicts, i);
                assert_int_equal(json_integer_value(json_object_get(c, "server_sequence")),
                                 31 + (json_int_t)i);
                assert_string_equal(json_string_value(json_object_get(c, "entity_id")), "hot");
        }
        assert_true(json_is_true(json_object_get(r.json, "conflicts_truncated")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 2);
        http_result_free(&r);

        /* Few enough: all of them, and no flag. */
        push_many(&d, tok_a, "few", "hot", 1, 38, NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "conflicts")), 2);
        assert_null(json_object_get(r.json, "conflicts_truncated"));
        http_result_free(&r);

        /* 100 ops on an entity with a 4000-byte id: the answer holds 1000
         * hints (about 4 MB); the idempotency record stays small. */
        char *eid = malloc(4001);
        assert_non_null(eid);
        memset(eid, 'e', 4000);
        eid[4000] = '\0';
        push_many(&d, tok_b, "long-b", eid, 12, 0, NULL, &r);
        http_result_free(&r);
        push_many(&d, tok_a, "long-a", eid, 100, 1, "big-key", &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "conflicts")), 1000);
        assert_true(json_is_true(json_object_get(r.json, "conflicts_truncated")));
        http_result_free(&r);
        long long len = 0;
        assert_int_equal(harness_db_int(&d,
                                        "SELECT length(response_json) FROM "
                                        "server_idempotency_keys WHERE idempotency_key='big-key'",
                                        &len),
                         0);
        assert_true(len > 0 && len <= 256 * 1024);
        /* The replay: every accepted op, no hints, the flag. */
        push_many(&d, tok_a, "long-a", eid, 100, 1, "big-key", &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "accepted")), 100);
        assert_int_equal(json_array_size(json_object_get(r.json, "conflicts")), 0);
        assert_true(json_is_true(json_object_get(r.json, "conflicts_truncated")));
        http_result_free(&r);
        free(eid);
        harness_destroy(&d);
}

/* Pull pages whose payloads double when escaped (the backslashes of a
 * JSON string): a page ends early at its byte bound with has_more and the
 * right page_last_sequence, and paging still visits every op once. */
/* Push count ops big-0, big-1, … one at a time, whose payload_json is the
 * JSON string "\\\\…": n bytes of backslashes as stored, twice that once
 * escaped again in a pull's answer. */
static void push_big_ops(const struct daemon *d, const char *token, int count, size_t n)
{
        struct http_result r;
        size_t cap = n + 1024;
        char *body = malloc(cap * 2);

        assert_non_null(body);
        for (int i = 0; i < count; i++) {
                size_t off = (size_t)snprintf(
                        body, cap * 2,
                        "{\"ops\":[{\"op_id\":\"big-%d\",\"entity_type\":\"note\",\"entity_id\":"
                        "\"e%d\",\"op_type\":\"update\",\"payload_json\":\"\\\"",
                        i, i);
                for (size_t k = 0; k < n / 2; k++)
                        off += (size_t)snprintf(body + off, cap * 2 - off, "\\\\\\\\");
                snprintf(body + off, cap * 2 - off,
                         "\\\"\",\"client_sequence\":1,\"last_seen_server_seq\":0,"
                         "\"created_at\":\"2026-07-01T10:00:00Z\"}]}");
                assert_int_equal(http_post_json(d, "/api/v1/sync/push", token, body, &r), 0);
                assert_int_equal(r.status, 200);
                http_result_free(&r);
        }
        free(body);
}

static void test_pull_page_byte_bound(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {0};
        struct http_result r;
        char token[65];
        size_t n = 200 * 1024;
        (void)state;

        start_paired(&d, &o, token);
        push_big_ops(&d, token, 5, n);

        long long since = 0;
        int pages = 0, seen = 0;
        bool more = true;
        while (more) {
                char req[96];
                snprintf(req, sizeof(req), "{\"since_sequence\":%lld}", since);
                assert_int_equal(http_post_json(&d, "/api/v1/sync/pull", token, req, &r), 0);
                assert_int_equal(r.status, 200);
                assert_non_null(r.json);
                /* Every page is bounded (1 MiB plus at most one op). */
                assert_true(r.body_len <= 1024 * 1024 + 128);
                json_t *ops = json_object_get(r.json, "ops");
                size_t k = json_array_size(ops);
                assert_true(k >= 1 && k <= 2);
                for (size_t i = 0; i < k; i++) {
                        char want[16];
                        snprintf(want, sizeof(want), "big-%d", seen + (int)i);
                        assert_string_equal(
                                json_string_value(json_object_get(json_array_get(ops, i), "op_id")),
                                want);
                        assert_int_equal(strlen(json_string_value(json_object_get(
                                                 json_array_get(ops, i), "payload_json"))),
                                         n + 2);
                }
                seen += (int)k;
                long long last = json_integer_value(json_object_get(r.json, "page_last_sequence"));
                assert_int_equal(last, json_integer_value(json_object_get(
                                               json_array_get(ops, k - 1), "server_sequence")));
                more = json_is_true(json_object_get(r.json, "has_more"));
                assert_int_equal(more, seen < 5);
                since = last;
                pages++;
                http_result_free(&r);
        }
        assert_int_equal(seen, 5);
        assert_int_equal(pages, 3);
        harness_destroy(&d);
}

/* A TCP connection to the daemon for requests curl would not send as
 * needed (a body held back, broken framing). */
static int raw_connect_rcvbuf(const struct daemon *d, int rcvbuf)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        if (rcvbuf > 0) /* before connect(): it sets the window offered */
                assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        struct timeval tv = {.tv_sec = 30};
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        return fd;
}

static int raw_connect(const struct daemon *d)
{
        return raw_connect_rcvbuf(d, 0);
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

/* Read until needle has arrived (or the peer closed); returns what came,
 * malloc'd. */
static char *raw_read_until(int fd, const char *needle)
{
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);

        assert_non_null(buf);
        buf[0] = '\0';
        while (!strstr(buf, needle) && len + 1 < cap) {
                ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
                if (n <= 0)
                        break;
                len += (size_t)n;
                buf[len] = '\0';
        }
        return buf;
}

/* An answer that goes out before the request body was read (413 from
 * Content-Length): the daemon reads and drops what the client still sends
 * before it closes, so a client that writes its whole body before reading
 * is not reset, and it gets its answer. */
static void test_lingering_close(void **state)
{
        static const char head[] = "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: 104857600\r\n\r\n";
        struct daemon d = {0};
        char chunk[64 * 1024];
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        memset(chunk, ' ', sizeof(chunk));
        int fd = raw_connect(&d);
        raw_send(fd, head, sizeof(head) - 1);
        raw_send(fd, chunk, sizeof(chunk));
        /* The answer, and the end of the daemon's side of the stream. */
        char *got = raw_read_until(fd, "\x01");
        assert_non_null(strstr(got, "HTTP/1.1 413"));
        assert_non_null(strstr(got, "\"request_too_large\""));
        free(got);
        /* A closed socket would answer this with a reset, and the sends
         * would fail. */
        for (int i = 0; i < 16; i++)
                raw_send(fd, chunk, sizeof(chunk));
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        char byte;
        assert_int_equal(recv(fd, &byte, 1, 0), 0);
        int err = -1;
        socklen_t len = sizeof(err);
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
        assert_int_equal(err, 0);
        close(fd);
        /* Served as before. */
        struct http_result r;
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        harness_destroy(&d);
}

/* A device revoked while its upload is in flight: the rest of the body
 * arrives, but the reference is not stored and the answer is 401. */
static void test_revoke_during_upload(void **state)
{
        static const char boundary[] = "xxBOUNDARYxx";
        struct daemon d = {0};
        struct daemon_options o = {0};
        struct http_result r;
        char token[65], head[1024], part_head[256], sql[256];
        size_t data_len = 256 * 1024;
        (void)state;

        start_paired(&d, &o, token);
        char *data = malloc(data_len);
        assert_non_null(data);
        memset(data, 'r', data_len);
        int ph = snprintf(part_head, sizeof(part_head),
                          "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                          "filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                          boundary);
        char tail[64];
        int tl = snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", boundary);
        int hl = snprintf(head, sizeof(head),
                          "POST /api/v1/blobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nExpect: 100-continue\r\n"
                          "Content-Type: multipart/form-data; boundary=%s\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          token, boundary, (size_t)ph + data_len + (size_t)tl);

        /* The daemon authenticates the upload before asking for the body. */
        int fd = raw_connect(&d);
        raw_send(fd, head, (size_t)hl);
        char *got = raw_read_until(fd, "\r\n\r\n");
        assert_non_null(strstr(got, "HTTP/1.1 100"));
        free(got);
        raw_send(fd, part_head, (size_t)ph);
        raw_send(fd, data, data_len / 2);

        /* Revoked from elsewhere while the body is arriving. */
        assert_int_equal(http_post_json(&d, "/api/client/revoke-current", token, "{}", &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        raw_send(fd, data + data_len / 2, data_len - data_len / 2);
        raw_send(fd, tail, (size_t)tl);
        got = raw_read_until(fd, "}");
        close(fd);
        assert_non_null(strstr(got, "HTTP/1.1 401"));
        assert_non_null(strstr(got, "\"device revoked\""));
        free(got);
        free(data);

        long long n = -1;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM server_blob_refs");
        assert_int_equal(harness_db_int(&d, sql, &n), 0);
        assert_int_equal(n, 0);
        harness_destroy(&d);
}

/* Send a raw request (the connection is closed after it) and return
 * everything the daemon sent back until it closed, malloc'd. */
static char *raw_exchange(const struct daemon *d, const char *request)
{
        int fd = raw_connect(d);

        raw_send(fd, request, strlen(request));
        (void)shutdown(fd, SHUT_WR);
        char *got = raw_read_until(fd, "\x01never\x01");
        close(fd);
        return got;
}

static unsigned count_of(const char *hay, const char *needle)
{
        unsigned n = 0;

        for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* The answer is exactly one HTTP response: 400 with a JSON error body. */
static void assert_one_json_400(const char *got, const char *what)
{
        if (strncmp(got, "HTTP/1.1 400 ", 13) != 0 || count_of(got, "HTTP/1.") != 1 ||
            !strstr(got, "\"code\":\"invalid_request\"") || strstr(got, "<html"))
                fail_msg("%s: unexpected answer:\n%s", what, got);
}

/* Framing a proxy might read differently from us (request smuggling) and
 * requests libmicrohttpd would choke on: one JSON 400 each. */
static void test_http_framing(void **state)
{
        struct daemon d = {0};
        char big[8192];
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        static const struct {
                const char *what, *request;
        } cases[] = {
                {"two different Content-Length headers",
                 "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                 "Content-Length: 40\r\nConnection: close\r\n\r\n{}"},
                {"Content-Length with chunked",
                 "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
                {"Transfer-Encoding: gzip",
                 "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                 "Connection: close\r\n\r\n{}"},
                {"HTTP/1.1 without Host",
                 "GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n"},
                {"%00 in the path",
                 "GET /api/v1/blobs/ab%00cd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *got = raw_exchange(&d, cases[i].request);
                assert_one_json_400(got, cases[i].what);
                free(got);
        }

        /* 500 query arguments. */
        size_t off = (size_t)snprintf(big, sizeof(big), "GET /api/v1/health?");
        for (int i = 0; i < 500; i++)
                off += (size_t)snprintf(big + off, sizeof(big) - off, "%sa%d=1", i ? "&" : "", i);
        snprintf(big + off, sizeof(big) - off, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        char *got = raw_exchange(&d, big);
        assert_one_json_400(got, "500 query arguments");
        free(got);

        /* The daemon still serves. */
        got = raw_exchange(&d, "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_int_equal(strncmp(got, "HTTP/1.1 200 ", 13), 0);
        free(got);
        harness_destroy(&d);
}

/* Sockets of the daemon's port in CLOSE_WAIT (/proc/net/tcp and tcp6:
 * state 08). */
static int close_wait_count(const struct daemon *d)
{
        static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
        char line[512], local[80];
        unsigned port, st;
        int n = 0;

        for (size_t i = 0; i < 2; i++) {
                FILE *f = fopen(files[i], "r");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f))
                        if (sscanf(line, " %*u: %79[0-9A-Fa-f]:%x %*s %x", local, &port, &st) ==
                                    3 &&
                            port == (unsigned)d->port && st == 0x08)
                                n++;
                fclose(f);
        }
        return n;
}

/* Clients that send part of a request (head, or head and part of the
 * body) and close their side at once, in a burst: libmicrohttpd misses the
 * FIN of those it accepts late, and used to keep them (CLOSE_WAIT) for the
 * 90 s idle timeout.  The connection watch sees the client's FIN and ends
 * them; the head deadline and the body rate are set out of the way here,
 * so that only the FIN can end them. */
static void test_half_closed_connections(void **state)
{
        struct daemon d = {0};
        int fds[300];
        static const char body_head[] = "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Content-Length: 100\r\n\r\n{\"since";
        /* All 300 come from one address: lift the per-client connection
         * limit, which would otherwise refuse most of them at once. */
        struct daemon_options o = {.config_yaml = "limits:\n  max_connections_per_client: 0\n"
                                                  "  request_head_seconds: 3600\n"
                                                  "  min_body_rate: 0\n"};
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        for (size_t i = 0; i < 300; i++) {
                fds[i] = raw_connect(&d);
                if (i % 10 == 0)
                        raw_send(fds[i], body_head, strlen(body_head));
                else
                        raw_send(fds[i], "GET /livez HTTP/1.1\r\nHo", 23);
                assert_int_equal(shutdown(fds[i], SHUT_WR), 0);
        }
        for (size_t i = 0; i < 300; i++)
                close(fds[i]);
        /* Wait (bounded, well under the old 90 s) until none is left. */
        struct harness_deadline dl = harness_deadline_in(40000);
        int left = close_wait_count(&d);
        while (left > 0 && harness_pause(&dl))
                left = close_wait_count(&d);
        assert_int_equal(left, 0);
        assert_true(harness_wait_log(&d, "half_closed_request", 10000));
        /* A whole request sent before the FIN is answered (raw_exchange
         * closes its side after sending). */
        char *got = raw_exchange(&d, "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_int_equal(strncmp(got, "HTTP/1.1 200 ", 13), 0);
        free(got);
        harness_destroy(&d);
}

/* One pull of token after every op there is (an empty page, answered at
 * once when it is answered); returns its status (the answer is left in r). */
static long pull_after_all(const struct daemon *d, const char *token, struct http_result *r)
{
        assert_int_equal(
                http_post_json(d, "/api/v1/sync/pull", token, "{\"since_sequence\":1000000000}", r),
                0);
        return r->status;
}

/* Wait (bounded) until the answer on fd has begun, and check it is a 200:
 * its page is being sent. */
static void wait_answer_begun(int fd)
{
        struct harness_deadline dl = harness_deadline_in(30000);
        char head[16] = {0};
        ssize_t n = 0;

        do {
                n = recv(fd, head, 13, MSG_PEEK | MSG_DONTWAIT);
        } while (n < 13 && harness_pause(&dl));
        assert_int_equal(n, 13);
        assert_string_equal(head, "HTTP/1.1 200 ");
}

/* One device sends pull after pull of a huge page on connections it never
 * reads (each answer being sent holds the page's state): beyond
 * limits.max_pulls_per_device the daemon answers 429 rate_limited at once,
 * without building the page; other devices are served, and the device is
 * served again once its answers are done.  The page (one op, 12 MiB once
 * escaped) is far larger than what the kernel's socket buffers can take
 * (net.ipv4.tcp_wmem allows 4 MiB), so the held answers cannot end. */
static void test_pulls_per_device(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {.config_yaml = "limits:\n  max_pulls_per_device: 2\n"
                                                  "  max_json_body: 16777216\n"
                                                  "  max_payload_json: 8388608\n"};
        struct http_result r;
        char token[65], other[65], req[512];
        int held[2];
        (void)state;

        start_paired(&d, &o, token);
        assert_int_equal(harness_pair(&d, "rel", USER_PASSWORD, "vault-r", other, NULL), 200);
        harness_note_secret(other);
        push_big_ops(&d, token, 1, 6 * 1024 * 1024);
        int len = snprintf(req, sizeof(req),
                           "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\n"
                           "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                           "Content-Length: 20\r\n\r\n{\"since_sequence\":0}",
                           token);
        for (size_t i = 0; i < 2; i++) {
                held[i] = raw_connect_rcvbuf(&d, 4096);
                raw_send(held[i], req, (size_t)len);
                wait_answer_begun(held[i]);
        }

        /* Both held answers take the device's slots: the next pull is
         * refused. */
        assert_int_equal(pull_after_all(&d, token, &r), 429);
        assert_string_equal(http_result_string(&r, "code"), "rate_limited");
        char *retry = http_result_header(&r, "Retry-After");
        assert_non_null(retry);
        assert_string_equal(retry, "1");
        free(retry);
        http_result_free(&r);
        assert_true(harness_wait_log(&d, "too_many_pulls", 10000));

        /* Another device of the same account is served meanwhile. */
        assert_int_equal(pull_after_all(&d, other, &r), 200);
        http_result_free(&r);

        /* Once the held answers end, the device is served again. */
        for (size_t i = 0; i < 2; i++)
                close(held[i]);
        struct harness_deadline dl = harness_deadline_in(15000);
        long status;
        while ((status = pull_after_all(&d, token, &r)) == 429 && harness_pause(&dl))
                http_result_free(&r);
        assert_int_equal(status, 200);
        http_result_free(&r);
        harness_destroy(&d);
}

/* POST one multipart upload of len bytes of c; returns the answer. */
static void upload(const struct daemon *d, const char *token, size_t len, char c,
                   struct http_result *r)
{
        static const char head[] = "--bnd\r\nContent-Disposition: form-data; name=\"file\"; "
                                   "filename=\"f\"\r\n\r\n";
        static const char tail[] = "\r\n--bnd--\r\n";
        size_t n = strlen(head) + len + strlen(tail);
        char *body = malloc(n), auth[128];

        assert_non_null(body);
        memcpy(body, head, strlen(head));
        memset(body + strlen(head), c, len);
        memcpy(body + strlen(head) + len, tail, strlen(tail));
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        const char *headers[] = {auth, "Content-Type: multipart/form-data; boundary=bnd", NULL};
        assert_int_equal(http_do(d, "POST", "/api/v1/blobs/", headers, body, n, r), 0);
        free(body);
}

/* Send n bytes of fill on fd, one burst every 200 ms, until the daemon
 * ends the connection (true) or 30 s have passed (false).  The pace is
 * the attack: each burst comes well inside the 10 s idle timeout. */
static bool trickle_until_closed(int fd, const char *fill, size_t n)
{
        struct harness_deadline dl = harness_deadline_in(30000);

        while (harness_now_ms() < dl.end_ms) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (send(fd, fill, n, MSG_NOSIGNAL) < 0)
                        return true; /* EPIPE, ECONNRESET: closed */
                if (poll(&p, 1, 200) == 1) {
                        char buf[4096];
                        ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (got == 0 || (got < 0 && errno != EAGAIN))
                                return true;
                        if (got > 0)
                                fail_msg("unexpected answer to a slow request: %.*s", (int)got,
                                         buf);
                }
        }
        return false;
}

struct slow_client {
        const struct daemon *daemon;
        const char *head; /* sent at once */
        const char *fill; /* then trickled */
        bool closed;
};

static void *slow_client_run(void *userdata)
{
        struct slow_client *c = userdata;
        int fd = raw_connect(c->daemon);

        raw_send(fd, c->head, strlen(c->head));
        c->closed = trickle_until_closed(fd, c->fill, strlen(c->fill));
        close(fd);
        return NULL;
}

/* A request head trickled a header byte at a time, and a body trickled
 * far below the minimum rate, are cut off (libmicrohttpd's idle timeout,
 * which every byte restarts, never would); meanwhile normal clients are
 * served, and an upload at normal speed is not cut. */
static void test_slow_head_and_body(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {
                .config_yaml = "limits:\n  request_head_seconds: 2\n  min_body_rate: 1024\n"
                               "  body_rate_seconds: 2\n  max_blob_bytes: 16777216\n"};
        struct http_result r;
        char token[65];
        pthread_t head_thread, body_thread;
        (void)state;

        start_paired(&d, &o, token);
        struct slow_client head = {
                .daemon = &d,
                .head = "GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                .fill = "a",
        };
        struct slow_client body = {
                .daemon = &d,
                .head = "POST /api/v1/sync/pull HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                        "{\"since_sequence\":0,\"pad\":\"",
                .fill = "bbbbbbbbbb",
        };
        assert_int_equal(pthread_create(&head_thread, NULL, slow_client_run, &head), 0);
        assert_int_equal(pthread_create(&body_thread, NULL, slow_client_run, &body), 0);

        /* Served while both trickle. */
        assert_int_equal(get_status(&d, "/livez", NULL), 200);
        upload(&d, token, 8 * 1024 * 1024, 'n', &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        harness_join(head_thread, 60000);
        harness_join(body_thread, 60000);
        assert_true(head.closed);
        assert_true(body.closed);
        assert_true(harness_wait_log(&d, "slow_request_head", 10000));
        assert_true(harness_wait_log(&d, "slow_request_body", 10000));
        assert_int_equal(get_status(&d, "/livez", NULL), 200);
        harness_destroy(&d);
}

/* Poll health until its status is want (bounded); leaves the answer. */
static void wait_health_status(const struct daemon *d, const char *want, struct http_result *r)
{
        struct harness_deadline dl = harness_deadline_in(15000);
        do {
                assert_int_equal(http_get(d, "/api/v1/health", NULL, r), 0);
                if (r->json && strcmp(http_result_string(r, "status"), want) == 0)
                        return;
                http_result_free(r);
        } while (harness_pause(&dl));
        fail_msg("health never became %s", want);
}

/* The data filesystem fills up (a 16 MiB tmpfs mounted for the test):
 * uploads answer 507 insufficient_storage, pushes never 500, health
 * reports the free space and turns degraded, reads keep working; once
 * space is freed everything recovers without a restart. */
static void test_disk_full(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {0};
        struct http_result r;
        char token[65], filler[PATH_MAX + 16];
        (void)state;

        assert_int_equal(harness_prepare(&d, &o), 0);
        if (mount("tmpfs", d.data_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0750") < 0) {
                int e = errno;
                harness_destroy(&d);
                fprintf(stderr, "cannot mount a tmpfs (%s): skipped\n", strerror(e));
                skip();
        }
        /* The configuration (the database URL on PostgreSQL) on the tmpfs. */
        assert_int_equal(harness_write_config(&d, ""), 0);
        start_paired(&d, &o, token);
        push_one(&d, token, "before-full", &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        wait_health_status(&d, "ok", &r);
        assert_true(json_integer_value(json_object_get(r.json, "storage_free_bytes")) > 0);
        http_result_free(&r);

        /* Fill the filesystem. */
        snprintf(filler, sizeof(filler), "%s/filler", d.data_dir);
        int fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        static char block[65536];
        while (write(fd, block, sizeof(block)) > 0)
                ;
        close(fd);

        wait_health_status(&d, "degraded", &r);
        assert_int_equal(r.status, 503);
        assert_true(json_integer_value(json_object_get(r.json, "storage_free_bytes")) <
                    1024 * 1024);
        http_result_free(&r);

        upload(&d, token, 256 * 1024, 'u', &r);
        http_assert_error(&r, 507, "insufficient_storage", NULL);
        http_result_free(&r);
        push_one(&d, token, "while-full", &r);
        if (r.status != 200)
                http_assert_error(&r, 507, "insufficient_storage", NULL);
        http_result_free(&r);
        /* Reads keep working. */
        assert_int_equal(
                http_post_json(&d, "/api/v1/sync/pull", token, "{\"since_sequence\":0}", &r), 0);
        assert_int_equal(r.status, 200);
        assert_true(json_array_size(json_object_get(r.json, "ops")) >= 1);
        http_result_free(&r);

        /* Space comes back: so does everything else. */
        assert_int_equal(unlink(filler), 0);
        wait_health_status(&d, "ok", &r);
        http_result_free(&r);
        upload(&d, token, 256 * 1024, 'u', &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        push_one(&d, token, "after-full", &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        int status;
        assert_int_equal(harness_stop(&d, SIGTERM, 30, &status), 0);
        assert_int_equal(umount2(d.data_dir, MNT_DETACH), 0);
        harness_destroy(&d);
}

/* One request on a new connection from 127.1.x.y (its own client address,
 * so per-address limits do not apply).  Returns 1 when answered 200
 * (the connection stays open in *ret_fd), 0 when the daemon closed it
 * without an answer; the test fails when nothing happens in 10 s. */
static int request_from(const struct daemon *d, unsigned i, int *ret_fd)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d->port)};
        struct sockaddr_in src = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char buf[4096];

        assert_true(fd >= 0);
        src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((i / 250) << 8) | (i % 250 + 1));
        assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        struct timeval tv = {.tv_sec = 10};
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        static const char req[] = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
        (void)send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0 && errno != ECONNRESET)
                fail_msg("connection %u: no answer and not closed (%s)", i, strerror(errno));
        if (n <= 0) {
                close(fd);
                return 0;
        }
        buf[n] = '\0';
        assert_int_equal(strncmp(buf, "HTTP/1.1 200 ", 13), 0);
        *ret_fd = fd;
        return 1;
}

/* At the connection cap new clients are refused at once (closed), not
 * left waiting in the listen backlog; once connections end, new ones are
 * served again. */
static void test_refused_at_cap(void **state)
{
        struct daemon d = {0};
        struct rlimit rl;
        static int fds[2100];
        unsigned open_fds = 0;
        (void)state;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max < 2400) {
                fprintf(stderr, "file descriptor limit too low: skipped\n");
                skip();
        }
        rl.rlim_cur = rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_int_equal(harness_start(&d, NULL), 0);

        int fd = -1;
        while (open_fds < 2100 && request_from(&d, open_fds, &fd) == 1)
                fds[open_fds++] = fd;
        /* Refused just below libmicrohttpd's own limit of 2 000. */
        assert_true(open_fds >= 1900 && open_fds < 2000);
        assert_int_equal(request_from(&d, 2100, &fd), 0);

        for (unsigned i = 0; i < 100; i++)
                close(fds[--open_fds]);
        int served = 0;
        struct harness_deadline dl = harness_deadline_in(15000);
        for (unsigned i = 0; !served; i++) {
                served = request_from(&d, 2101 + i, &fd);
                if (!served && !harness_pause(&dl))
                        break;
        }
        assert_true(served);
        close(fd);
        while (open_fds > 0)
                close(fds[--open_fds]);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_lock_held_elsewhere),
                cmocka_unit_test(test_revoke_during_upload),
                cmocka_unit_test(test_http_framing),
                cmocka_unit_test(test_conflicts_bounded),
                cmocka_unit_test(test_pull_page_byte_bound),
                cmocka_unit_test(test_lingering_close),
                cmocka_unit_test(test_half_closed_connections),
                cmocka_unit_test(test_pulls_per_device),
                cmocka_unit_test(test_disk_full),
                cmocka_unit_test(test_refused_at_cap),
                cmocka_unit_test(test_slow_head_and_body),
        };
        return cmocka_run_group_tests_name("reliability", tests, NULL, NULL);
}
