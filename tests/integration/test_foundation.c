/* SPDX-License-Identifier: MIT */
/*
 * Integration: the foundation against the real binary — health endpoints,
 * 404/405 shapes, body limits and malformed bodies, security headers,
 * configuration errors, admin bootstrap, clean shutdown on SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct daemon shared_daemon;

static int start_shared(void **state)
{
        (void)state;
        return harness_start(&shared_daemon, NULL);
}

static int stop_shared(void **state)
{
        (void)state;
        harness_destroy(&shared_daemon);
        return 0;
}

static void assert_security_headers(const struct http_result *r)
{
        static const char *const expect[][2] = {
                {"Content-Security-Policy",
                 "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "
                 "img-src 'self' data:; script-src 'self'; style-src 'self'"},
                {"X-Content-Type-Options", "nosniff"},
                {"Referrer-Policy", "same-origin"},
                {"X-Frame-Options", "DENY"},
        };
        for (size_t i = 0; i < 4; i++) {
                char *v = http_result_header(r, expect[i][0]);
                assert_non_null(v);
                assert_string_equal(v, expect[i][1]);
                free(v);
        }
}

static void test_health_ok(void **state)
{
        struct http_result r;
        (void)state;

        assert_int_equal(http_get(&shared_daemon, "/api/v1/health", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(r.json);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
        assert_true(json_is_true(json_object_get(r.json, "database_reachable")));
        assert_true(json_is_true(json_object_get(r.json, "blob_storage_writable")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "schema_version")), 9);
        assert_true(json_is_string(json_object_get(r.json, "version")));
        assert_true(json_is_string(json_object_get(r.json, "build_commit")));
        assert_true(json_is_integer(json_object_get(r.json, "uptime_seconds")));
        const char *t = json_string_value(json_object_get(r.json, "server_time"));
        assert_non_null(t);
        assert_int_equal(strlen(t), 20);
        assert_int_equal(t[19], 'Z');
        /* No paths in the answer. */
        assert_null(strstr(r.body, shared_daemon.data_dir));
        char *ct = http_result_header(&r, "Content-Type");
        assert_string_equal(ct, "application/json");
        free(ct);
        assert_security_headers(&r);
        http_result_free(&r);

        assert_int_equal(http_get(&shared_daemon, "/readyz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
        http_result_free(&r);

        assert_int_equal(http_get(&shared_daemon, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
        assert_non_null(json_object_get(r.json, "server_time"));
        http_result_free(&r);

        assert_int_equal(http_do(&shared_daemon, "HEAD", "/livez", NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 0);
        http_result_free(&r);
}

static void test_not_found_and_method(void **state)
{
        struct http_result r;
        (void)state;

        assert_int_equal(http_get(&shared_daemon, "/api/v1/nothing-here", NULL, &r), 0);
        assert_http_error(&r, 404, "not_found");
        assert_security_headers(&r);
        assert_null(strstr(r.body, "<html"));
        http_result_free(&r);

        /* The administrator's JSON API answers JSON for unknown paths too. */
        assert_int_equal(http_get(&shared_daemon, "/admin/api/no-such-thing", NULL, &r), 0);
        assert_http_error(&r, 404, "not_found");
        http_result_free(&r);

        /* Non-API paths get the web UI's page, also with the headers. */
        assert_int_equal(http_get(&shared_daemon, "/no/such/page", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        assert_non_null(strstr(r.body, "<html"));
        assert_security_headers(&r);
        http_result_free(&r);

        assert_int_equal(http_post_json(&shared_daemon, "/api/v1/health", NULL, "{}", &r), 0);
        assert_http_error(&r, 405, "method_not_allowed");
        char *allow = http_result_header(&r, "Allow");
        assert_non_null(allow);
        assert_non_null(strstr(allow, "GET"));
        free(allow);
        http_result_free(&r);

        assert_int_equal(http_do(&shared_daemon, "DELETE", "/livez", NULL, NULL, 0, &r), 0);
        assert_http_error(&r, 405, "method_not_allowed");
        http_result_free(&r);

        /* Over-long URLs are refused before routing. */
        char path[4200] = "/api/";
        memset(path + 5, 'a', 3000);
        path[3005] = '\0';
        assert_int_equal(http_get(&shared_daemon, path, NULL, &r), 0);
        assert_int_equal(r.status, 414);
        assert_true(r.json != NULL);
        http_result_free(&r);
}

static void test_body_limits(void **state)
{
        struct http_result r;
        size_t big = 2 * 1024 * 1024 + 10;
        char *body = malloc(big);
        (void)state;

        memset(body, ' ', big);
        body[0] = '{';
        body[big - 1] = '}';

        /* Declared too large: refused from Content-Length.  The answer
         * comes before the body is read; the daemon drops the rest of the
         * body the client still sends before it closes (a lingering
         * close), so the client is not reset before it reads the answer. */
        assert_int_equal(http_do(&shared_daemon, "POST", "/api/v1/unknown", NULL, body, big, &r),
                         0);
        assert_http_error(&r, 413, "request_too_large");
        http_result_free(&r);

        /* Streamed without a length: refused while streaming. */
        const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
        assert_int_equal(http_do(&shared_daemon, "POST", "/livez", chunked, body, big, &r), 0);
        assert_http_error(&r, 413, "request_too_large");
        http_result_free(&r);
        free(body);

        /* The daemon is still healthy afterwards. */
        assert_int_equal(http_get(&shared_daemon, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* A header block of 20 KB fits the connection's memory pool
         * (README: about 27 KiB); one beyond the limit is refused. */
        char *hdr = malloc(40000);
        strcpy(hdr, "X-Big: ");
        memset(hdr + 7, 'h', 20000);
        hdr[20007] = '\0';
        const char *fits[] = {hdr, NULL};
        assert_int_equal(http_do(&shared_daemon, "GET", "/livez", fits, NULL, 0, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        memset(hdr + 7, 'h', 39000);
        hdr[39007] = '\0';
        const char *headers[] = {hdr, NULL};
        int rc = http_do(&shared_daemon, "GET", "/livez", headers, NULL, 0, &r);
        if (rc == 0) {
                assert_true(r.status == 431 || r.status == 413);
                http_result_free(&r);
        }
        free(hdr);
}

static void test_shutdown_clean(void **state)
{
        struct daemon d = {0};
        int status = 0;
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(harness_log_contains(&d, "stopped"));

        /* The database was closed cleanly: no WAL left behind after the
         * checkpoint, and its schema is this build's. */
        char wal[PATH_MAX + 32], db[PATH_MAX + 32];
        snprintf(wal, sizeof(wal), "%s/server.db-wal", d.data_dir);
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        FILE *f = fopen(wal, "r");
        if (f) {
                fseek(f, 0, SEEK_END);
                assert_int_equal(ftell(f), 0);
                fclose(f);
        }
        assert_int_equal(harness_schema_version(&d), 9);

        /* SIGINT too. */
        assert_int_equal(harness_start(&d, NULL), 0);
        assert_int_equal(harness_stop(&d, SIGINT, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        harness_destroy(&d);
}

/* Start with a config and expect start-up to fail naming key. */
static void expect_config_error(const char *yaml, const char *key)
{
        struct daemon d = {0};
        struct daemon_options o = {.config_yaml = yaml, .no_wait = true};
        int status = 0;

        assert_int_equal(harness_start(&d, &o), 0);
        if (harness_wait(&d, 20, &status) != 0)
                fail_msg("daemon kept running with config: %s", yaml);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 0);
        if (!harness_log_contains(&d, key))
                fail_msg("log does not name key '%s'", key);
        harness_destroy(&d);
}

static void test_config_errors(void **state)
{
        (void)state;
        expect_config_error("no_such_key: 1\n", "no_such_key");
        expect_config_error("limits:\n  max_json_body: -5\n", "limits.max_json_body");
        expect_config_error("limits:\n  max_pull_page: \"many\"\n", "limits.max_pull_page");
        expect_config_error("limits:\n  bogus: 1\n", "limits.bogus");
        expect_config_error("listen: \"localhost\"\n", "listen");
        expect_config_error("listen: \"1.2.3.4:99999\"\n", "listen");
        expect_config_error("trusted_proxies: [\"10.0.0.0/33\"]\n", "trusted_proxies");
        expect_config_error("trusted_proxies: [\"not-an-ip\"]\n", "trusted_proxies");
        expect_config_error("web:\n  allow_registration: maybe\n", "web.allow_registration");
        expect_config_error("web:\n  default_locale: de\n", "web.default_locale");
        expect_config_error("public_url: ftp://x\n", "public_url");
        expect_config_error("limits: [1, 2]\n", "limits");
        expect_config_error("key: [unclosed\n", "config");
}

static void test_bad_flags(void **state)
{
        (void)state;
        harness_note_secret("secret-pass");
        harness_note_secret("x12345678");
        static const char *const cases[][3] = {
                {"--admin-user", "root-admin", NULL},  /* name without password */
                {"--admin-pass", "secret-pass", NULL}, /* password without name */
                {"--bogus-flag", NULL, NULL},
                {"--port", "notaport", NULL},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct daemon d = {0};
                struct daemon_options o = {.extra_args = cases[i], .no_wait = true};
                int status = 0;
                assert_int_equal(harness_start(&d, &o), 0);
                assert_int_equal(harness_wait(&d, 20, &status), 0);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 2);
                harness_destroy(&d);
        }
        /* Two password sources at once. */
        struct daemon d = {0};
        const char *const two[] = {"--admin-user",       "a", "--admin-pass", "x12345678",
                                   "--admin-pass-stdin", NULL};
        struct daemon_options o = {.extra_args = two, .no_wait = true};
        int status = 0;
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(harness_wait(&d, 20, &status), 0);
        assert_int_equal(WEXITSTATUS(status), 2);
        harness_destroy(&d);
}

static char *admin_hash(const struct daemon *d, const char *user)
{
        return harness_sql_text(d, "SELECT password_hash FROM server_admins WHERE username = %Q",
                                user);
}

static void test_admin_bootstrap(void **state)
{
        struct daemon d = {0};
        char pwfile[PATH_MAX + 16];
        (void)state;

        harness_note_secret("first-password-1");
        harness_note_secret("second-password-2");
        harness_note_secret("third-password-3");

        /* From a file: created, and the server keeps running. */
        assert_int_equal(harness_prepare(&d, NULL), 0);
        snprintf(pwfile, sizeof(pwfile), "%s/pw", d.root);
        FILE *f = fopen(pwfile, "w");
        fputs("first-password-1\n", f);
        fclose(f);
        const char *const a1[] = {"--admin-user", "boss", "--admin-pass-file", pwfile, NULL};
        struct daemon_options o1 = {.extra_args = a1};
        assert_int_equal(harness_start(&d, &o1), 0);
        struct http_result r;
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);
        char *h1 = admin_hash(&d, "boss");
        assert_non_null(h1);
        assert_true(strncmp(h1, "$argon2id$", 10) == 0);
        assert_null(strstr(h1, "first-password-1"));
        assert_false(harness_log_contains(&d, "first-password-1"));

        /* From stdin: the same name gets a new hash (updated, not duplicated). */
        const char *const a2[] = {"--admin-user", "boss", "--admin-pass-stdin", NULL};
        struct daemon_options o2 = {.extra_args = a2, .stdin_text = "second-password-2\n"};
        assert_int_equal(harness_start(&d, &o2), 0);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);
        char *h2 = admin_hash(&d, "boss");
        assert_non_null(h2);
        assert_string_not_equal(h1, h2);

        /* --admin-pass warns, and the value does not reach the log. */
        const char *const a3[] = {"--admin-user", "boss", "--admin-pass", "third-password-3", NULL};
        struct daemon_options o3 = {.extra_args = a3};
        assert_int_equal(harness_start(&d, &o3), 0);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);
        assert_true(harness_log_contains(&d, "--admin-pass exposes"));
        assert_false(harness_log_contains(&d, "third-password-3"));
        free(h1);
        free(h2);
        harness_destroy(&d);
}

/* --check-config validates and exits without creating anything. */
static void test_check_config(void **state)
{
        static const char *const args[] = {"--check-config", NULL};
        char db[PATH_MAX + 16];
        int status = 0;
        (void)state;

        struct daemon d = {0};
        struct daemon_options ok = {.config_yaml = "limits:\n  max_pull_page: 50\n",
                                    .extra_args = args,
                                    .no_wait = true};
        assert_int_equal(harness_start(&d, &ok), 0);
        assert_int_equal(harness_wait(&d, 20, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(harness_log_contains(&d, "Configuration is valid"));
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        assert_int_not_equal(access(db, F_OK), 0); /* no database was created */
        harness_destroy(&d);

        struct daemon_options bad = {.config_yaml = "limits:\n  max_pull_page: -1\n",
                                     .extra_args = args,
                                     .no_wait = true};
        assert_int_equal(harness_start(&d, &bad), 0);
        assert_int_equal(harness_wait(&d, 20, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        assert_true(harness_log_contains(&d, "limits.max_pull_page"));
        harness_destroy(&d);
}

static void test_bind_itself(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {.bind_itself = true};
        struct http_result r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        harness_destroy(&d);
}

/* Health answers from a background probe (about once a second): poll
 * path until it answers status, for up to 5 s.  Leaves the last answer
 * in *r. */
static void wait_health(const struct daemon *d, const char *path, long status,
                        struct http_result *r)
{
        struct harness_deadline dl = harness_deadline_in(15000);
        do {
                assert_int_equal(http_get(d, path, NULL, r), 0);
                if (r->status == status)
                        return;
                http_result_free(r);
        } while (harness_pause(&dl));
        assert_int_equal(http_get(d, path, NULL, r), 0);
        assert_int_equal(r->status, status);
}

static void test_health_degraded(void **state)
{
        struct daemon d = {0};
        char blobs[PATH_MAX + 16], moved[PATH_MAX + 16];
        struct http_result r;
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        /* Replace the blob directory with a plain file: nothing can be
         * written there any more (this works even for root). */
        snprintf(blobs, sizeof(blobs), "%s/blobs", d.data_dir);
        snprintf(moved, sizeof(moved), "%s/blobs.away", d.data_dir);
        assert_int_equal(rename(blobs, moved), 0);
        FILE *f = fopen(blobs, "w");
        assert_non_null(f);
        fclose(f);

        wait_health(&d, "/api/v1/health", 503, &r);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "degraded");
        assert_true(json_is_false(json_object_get(r.json, "blob_storage_writable")));
        assert_true(json_is_true(json_object_get(r.json, "database_reachable")));
        http_result_free(&r);
        assert_int_equal(http_get(&d, "/readyz", NULL, &r), 0);
        assert_int_equal(r.status, 503);
        http_result_free(&r);
        /* Liveness does not depend on storage. */
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* Repaired: healthy again without a restart. */
        assert_int_equal(unlink(blobs), 0);
        assert_int_equal(rename(moved, blobs), 0);
        wait_health(&d, "/api/v1/health", 200, &r);
        http_result_free(&r);
        harness_destroy(&d);
}

/* X-Forwarded-For is believed only from trusted proxies: without any, a
 * client cannot dodge the per-IP rate limit by inventing addresses. */
static void test_forwarded_for_untrusted(void **state)
{
        struct daemon d = {0};
        struct http_result r;
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        harness_set_unique_client_ips(true);
        for (int i = 0; i < 5; i++) {
                char body[128];
                snprintf(body, sizeof(body),
                         "{\"login\":\"nobody%d\",\"password\":\"x\",\"vault_id\":\"v\"}", i);
                assert_int_equal(http_post_json(&d, "/api/client/pair", NULL, body, &r), 0);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        assert_int_equal(http_post_json(&d, "/api/client/pair", NULL,
                                        "{\"login\":\"other\",\"password\":\"x\","
                                        "\"vault_id\":\"v\"}",
                                        &r),
                         0);
        assert_int_equal(r.status, 429);
        http_result_free(&r);
        harness_set_unique_client_ips(false);
        harness_destroy(&d);

        /* With 127.0.0.1 trusted, each forwarded address has its own budget. */
        struct daemon_options o = {.config_yaml = "trusted_proxies: [\"127.0.0.0/8\"]\n"};
        assert_int_equal(harness_start(&d, &o), 0);
        harness_set_unique_client_ips(true);
        for (int i = 0; i < 7; i++) {
                char body[128];
                snprintf(body, sizeof(body),
                         "{\"login\":\"nobody%d\",\"password\":\"x\",\"vault_id\":\"v\"}", i);
                assert_int_equal(http_post_json(&d, "/api/client/pair", NULL, body, &r), 0);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        harness_set_unique_client_ips(false);
        /* The audit log records the forwarded address, not the proxy's. */
        long long n = 0;
        assert_int_equal(harness_db_wait_int(&d,
                                             "SELECT count(*) FROM server_audit_log WHERE ip LIKE "
                                             "'10.%'",
                                             7, 5000, &n),
                         0);
        assert_true(n >= 7);
        harness_destroy(&d);
}

/* How many audit entries name ip as the client. */
static long long audited(struct daemon *d, const char *ip)
{
        char sql[160];
        long long n = -1;

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM server_audit_log WHERE ip = '%s'", ip);
        assert_int_equal(harness_db_int(d, sql, &n), 0);
        return n;
}

/* Audit entries are written after the answer (a queue): wait up to 15 s
 * for the entry naming ip.  The entry of a request names one address, so
 * once it is there, a count of 0 for another address is final. */
static long long audited_wait(struct daemon *d, const char *ip)
{
        char sql[160];
        long long n = -1;

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM server_audit_log WHERE ip = '%s'", ip);
        (void)harness_db_wait_int(d, sql, 1, 15000, &n);
        return n;
}

/* One failed pairing with extra headers; returns the status. */
static long pair_with(struct daemon *d, const char *const *headers)
{
        static int n;
        struct http_result r;
        char body[128];
        long status;

        /* A fresh account name each time: only the address budget counts. */
        snprintf(body, sizeof(body),
                 "{\"login\":\"nobody-%d\",\"password\":\"x\",\"vault_id\":\"v\"}", ++n);
        http_call(d, "POST", "/api/client/pair", NULL, "application/json", body, headers, &r);
        status = r.status;
        http_result_free(&r);
        return status;
}

/* Behind proxies the client is the right-most X-Forwarded-For entry that
 * is not a trusted proxy: the left-most entries are the client's own. */
static void test_forwarded_for_rightmost(void **state)
{
        struct daemon d = {0};
        (void)state;

        struct daemon_options o = {
                .config_yaml = "trusted_proxies: [\"127.0.0.0/8\", \"198.51.100.0/24\", unix]\n",
                .second_listener = true};
        assert_int_equal(harness_start(&d, &o), 0);

        const char *spoofed[] = {"X-Forwarded-For: 6.6.6.6, 203.0.113.5, 198.51.100.7", NULL};
        assert_int_equal(pair_with(&d, spoofed), 401);
        assert_int_equal(audited_wait(&d, "203.0.113.5"), 1);
        assert_int_equal(audited(&d, "6.6.6.6"), 0);

        /* A second header line counts after the first. */
        const char *two[] = {"X-Forwarded-For: 6.6.6.7", "X-Forwarded-For: 203.0.113.6", NULL};
        assert_int_equal(pair_with(&d, two), 401);
        assert_int_equal(audited_wait(&d, "203.0.113.6"), 1);

        /* Only trusted hops: the left-most is the client. */
        const char *all_trusted[] = {"X-Forwarded-For: 198.51.100.9, 198.51.100.8", NULL};
        assert_int_equal(pair_with(&d, all_trusted), 401);
        assert_int_equal(audited_wait(&d, "198.51.100.9"), 1);

        /* A reverse proxy on the unix socket is trusted as "unix". */
        snprintf(d.http_unix_socket, sizeof(d.http_unix_socket), "%s", d.second_socket);
        const char *via_unix[] = {"X-Forwarded-For: 203.0.113.8", NULL};
        assert_int_equal(pair_with(&d, via_unix), 401);
        assert_int_equal(audited_wait(&d, "203.0.113.8"), 1);
        d.http_unix_socket[0] = '\0';
        harness_destroy(&d);
}

/* IPv6 clients share one rate-limit budget per /64: a fresh address from
 * the same /64 for every attempt does not escape the limit. */
static void test_ipv6_rate_limit_per_64(void **state)
{
        struct daemon d = {0};
        char header[96];
        (void)state;

        struct daemon_options o = {.config_yaml = "trusted_proxies: [\"127.0.0.0/8\"]\n"};
        assert_int_equal(harness_start(&d, &o), 0);
        for (int i = 1; i <= 5; i++) {
                snprintf(header, sizeof(header), "X-Forwarded-For: 2001:db8:1:2::%x", i);
                const char *h[] = {header, NULL};
                assert_int_equal(pair_with(&d, h), 401);
        }
        snprintf(header, sizeof(header), "X-Forwarded-For: 2001:db8:1:2:ffff::1");
        const char *same64[] = {header, NULL};
        assert_int_equal(pair_with(&d, same64), 429);
        const char *other64[] = {"X-Forwarded-For: 2001:db8:1:3::1", NULL};
        assert_int_equal(pair_with(&d, other64), 401);
        harness_destroy(&d);
}

/* A TCP connection to the daemon from the loopback address src. */
static int connect_from(const struct daemon *d, const char *src)
{
        struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
        assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &to.sin_addr), 1);
        to.sin_port = htons((uint16_t)d->port);
        assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
        return fd;
}

/* Ask for /livez on fd: 1 when answered 200, 0 when the daemon closed the
 * connection instead (waits at most 10 s). */
static int livez_on(int fd)
{
        static const char req[] = "GET /livez HTTP/1.1\r\nHost: t\r\n\r\n";
        char buf[64] = "";
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
                return 0;
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return 0;
        return strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* One address holds at most limits.max_connections_per_client open
 * connections (idle keep-alives, long polls); another address is still
 * served while it holds them all. */
static void test_connections_per_client(void **state)
{
        enum { LIMIT = 8 };
        struct daemon d = {0};
        int fds[LIMIT + 1], answered = 0;
        (void)state;

        struct daemon_options o = {.config_yaml = "limits:\n  max_connections_per_client: 8\n"};
        assert_int_equal(harness_start(&d, &o), 0);
        for (int i = 0; i <= LIMIT; i++)
                fds[i] = connect_from(&d, "127.0.0.3");
        for (int i = 0; i <= LIMIT; i++)
                answered += livez_on(fds[i]);
        assert_int_equal(answered, LIMIT);
        /* While 127.0.0.3 holds every slot it may, 127.0.0.2 is served.
         * (127.0.0.1 is the harness's own, with its kept-alive connection.) */
        int other = connect_from(&d, "127.0.0.2");
        assert_int_equal(livez_on(other), 1);
        close(other);
        for (int i = 0; i <= LIMIT; i++)
                close(fds[i]);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest shared[] = {
                cmocka_unit_test(test_health_ok),
                cmocka_unit_test(test_not_found_and_method),
                cmocka_unit_test(test_body_limits),
        };
        const struct CMUnitTest own[] = {
                cmocka_unit_test(test_shutdown_clean),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_bad_flags),
                cmocka_unit_test(test_admin_bootstrap),
                cmocka_unit_test(test_bind_itself),
                cmocka_unit_test(test_check_config),
                cmocka_unit_test(test_forwarded_for_rightmost),
                cmocka_unit_test(test_ipv6_rate_limit_per_64),
                cmocka_unit_test(test_connections_per_client),
                cmocka_unit_test(test_health_degraded),
                cmocka_unit_test(test_forwarded_for_untrusted),
        };
        int failed =
                cmocka_run_group_tests_name("foundation-shared", shared, start_shared, stop_shared);
        failed += cmocka_run_group_tests_name("foundation", own, NULL, NULL);
        return failed;
}
