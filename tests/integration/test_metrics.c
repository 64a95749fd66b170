/* SPDX-License-Identifier: MIT */
/*
 * Integration: Prometheus metrics of the real daemon.  With metrics.listen
 * set, GET /metrics on that listener answers the text exposition format
 * (checked with `promtool check metrics`) whose counters match what the
 * test did (pushes and their batch sizes, pulled operations, blob bytes in
 * and out, requests by route and status, rate-limit refusals, blob
 * totals); /metrics on the public listener is 404; other paths and
 * methods on the metrics listener are refused.  Under socket activation
 * the socket named "metrics" (FileDescriptorName=) is the metrics
 * listener and the other one the public one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define BOUNDARY "----verstak-metrics-boundary-b7d4b52a1c6e2d8f"

/* The value of the sample line that starts with series (name and labels,
 * exactly as written), or -1 when there is none. */
static double sample(const char *text, const char *series)
{
        size_t n = strlen(series);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, series, n) == 0 && p[n] == ' ')
                        return strtod(p + n + 1, NULL);
        return -1;
}

/* A view of d whose requests go to the metrics listener on port. */
static struct daemon metrics_view(const struct daemon *d, int port)
{
        struct daemon m = *d;

        snprintf(m.base_url, sizeof(m.base_url), "http://127.0.0.1:%d", port);
        m.http_unix_socket[0] = '\0';
        return m;
}

/* GET /metrics from the metrics listener. */
static char *fetch(const struct daemon *m)
{
        struct http_result r;
        char *text;

        assert_int_equal(http_get(m, "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        char *ctype = http_result_header(&r, "Content-Type");
        assert_non_null(ctype);
        assert_non_null(strstr(ctype, "version=0.0.4"));
        free(ctype);
        text = strdup(r.body);
        assert_non_null(text);
        http_result_free(&r);
        return text;
}

/*
 * Requests are counted when they end, which is just after the client has
 * its answer: fetch until every series[i] is at least min[i] (bounded),
 * then check the text with promtool.
 */
static char *scrape(const struct daemon *m, const char *const *series, const double *min, size_t n)
{
        char path[512];
        char *text = NULL;

        struct harness_deadline dl = harness_deadline_in(5000);
        for (;;) {
                bool all = true;
                free(text);
                text = fetch(m);
                for (size_t i = 0; i < n && all; i++)
                        all = sample(text, series[i]) >= min[i];
                if (all || !harness_pause(&dl))
                        break;
        }
        snprintf(path, sizeof(path), "%.400s/metrics.txt", m->root);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_true(harness_have_program("promtool"));
        char cmd[2 * sizeof(path) + 64];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s.out' 2>&1", path, path);
        if (system(cmd) != 0) {
                snprintf(path + strlen(path), 8, ".out");
                char *out = harness_read_file(path);
                fail_msg("promtool check metrics failed:\n%s\n--- metrics:\n%s", out ? out : "",
                         text);
        }
        return text;
}

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

        assert_non_null(body);
        memcpy(body, head, sizeof(head) - 1);
        memcpy(body + sizeof(head) - 1, data, len);
        memcpy(body + sizeof(head) - 1 + len, tail, sizeof(tail) - 1);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        assert_int_equal(http_do(d, "POST", "/api/v1/blobs/", headers, body, blen, &r), 0);
        free(body);
        long st = r.status;
        http_result_free(&r);
        return st;
}

static void push(const struct daemon *d, const char *token, int first, int n)
{
        json_t *ops = json_array();
        for (int i = first; i < first + n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "m-op-%d", i);
                json_array_append_new(ops, json_pack("{s:s,s:s,s:s,s:s,s:s}", "op_id", id,
                                                     "entity_type", "note", "entity_id", id,
                                                     "op_type", "create", "payload_json", "{}"));
        }
        json_t *body = json_pack("{s:o}", "ops", ops);
        char *text = json_dumps(body, JSON_COMPACT);
        struct http_result r;

        json_decref(body);
        assert_int_equal(http_post_json(d, "/api/v1/sync/push", token, text, &r), 0);
        assert_int_equal(r.status, 200);
        free(text);
        http_result_free(&r);
}

static void test_metrics_listener(void **state)
{
        char config[256], token[65], sha[65], path[128];
        unsigned char blob[1000], digest[32];
        struct daemon d = {0};
        struct http_result r;
        int port = harness_free_port();
        (void)state;

        assert_true(port > 0);
        snprintf(config, sizeof(config), "metrics:\n  listen: \"127.0.0.1:%d\"\n", port);
        struct daemon_options o = {.config_yaml = config};
        assert_int_equal(harness_start(&d, &o), 0);
        struct daemon m = metrics_view(&d, port);

        assert_int_equal(
                harness_add_user(&d, "mia", "mia@example.com", "mia-password-1", true, false, NULL),
                0);
        assert_int_equal(harness_pair(&d, "mia", "mia-password-1", "v", token, NULL), 200);
        harness_note_secret(token);
        push(&d, token, 0, 3);
        push(&d, token, 3, 2);
        assert_int_equal(
                http_post_json(&d, "/api/v1/sync/pull", token, "{\"since_sequence\":0}", &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        randombytes_buf(blob, sizeof(blob));
        assert_int_equal(upload(&d, token, blob, sizeof(blob)), 200);
        crypto_hash_sha256(digest, blob, sizeof(blob));
        sodium_bin2hex(sha, sizeof(sha), digest, sizeof(digest));
        snprintf(path, sizeof(path), "/api/v1/blobs/%s", sha);
        assert_int_equal(http_get(&d, path, token, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        /* Pairing is limited to 5 attempts per address: stop at the first
         * refusal. */
        long last = 0;
        for (int i = 0; i < 6 && last != 429; i++)
                last = harness_pair(&d, "mia", "wrong-password", "v", NULL, NULL);
        assert_int_equal(last, 429);
        /* Not on the public listener. */
        assert_int_equal(http_get(&d, "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_result_free(&r);

        static const char *const wanted[] = {
                "verstak_http_requests_total{method=\"POST\",route=\"/api/client/pair\","
                "status=\"429\"}",
                "verstak_http_requests_total{method=\"\",route=\"unmatched\",status=\"404\"}",
                "verstak_http_requests_total{method=\"POST\",route=\"/api/v1/sync/push\","
                "status=\"200\"}",
                "verstak_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/"
                "sync/push\"}",
        };
        static const double at_least[] = {1, 1, 2, 2};
        char *text = scrape(&m, wanted, at_least, 4);
        assert_true(sample(text, "verstak_ops_pushed_total") == 5);
        assert_true(sample(text, "verstak_ops_pulled_total") == 5);
        assert_true(sample(text, "verstak_push_batch_ops_count") == 2);
        assert_true(sample(text, "verstak_push_batch_ops_sum") == 5);
        assert_true(sample(text, "verstak_push_batch_ops_bucket{le=\"2\"}") == 1);
        assert_true(sample(text, "verstak_push_commit_seconds_count") == 2);
        assert_true(sample(text, "verstak_blob_bytes_in_total") == 1000);
        assert_true(sample(text, "verstak_blob_bytes_out_total") == 1000);
        assert_true(sample(text, "verstak_blobs") == 1);
        assert_true(sample(text, "verstak_blob_bytes") == 1000);
        assert_true(sample(text, "verstak_rate_limited_total") == 1);
        assert_true(sample(text, "verstak_longpoll_waiters") == 0);
        assert_true(sample(text, "verstak_mail_failed_total") == 0);
        assert_true(sample(text, "verstak_http_requests_total{method=\"POST\",route=\"/api/v1/"
                                 "sync/push\",status=\"200\"}") == 2);
        assert_true(sample(text, "verstak_http_requests_total{method=\"POST\",route=\"/api/"
                                 "client/pair\",status=\"429\"}") == 1);
        assert_true(sample(text, "verstak_http_requests_total{method=\"\",route=\"unmatched\","
                                 "status=\"404\"}") >= 1);
        assert_true(sample(text, "verstak_http_request_duration_seconds_count{method=\"POST\","
                                 "route=\"/api/v1/sync/push\"}") == 2);
        assert_true(sample(text, "verstak_database_bytes") > 0);
        assert_true(sample(text, "process_resident_memory_bytes") > 0);
        assert_true(sample(text, "process_open_fds") > 0);
        free(text);

        /* Only GET /metrics there. */
        assert_int_equal(http_get(&m, "/api/v1/health", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_result_free(&r);
        assert_int_equal(http_do(&m, "POST", "/metrics", NULL, "x", 1, &r), 0);
        assert_int_equal(r.status, 405);
        http_result_free(&r);
        harness_destroy(&d);
}

static void test_no_metrics_by_default(void **state)
{
        struct daemon d = {0};
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        assert_true(harness_wait_log(&d, "serving on", 5000));
        assert_false(harness_log_contains(&d, "Metrics on"));
        harness_destroy(&d);
}

/* systemd passes two sockets; the one named "metrics" serves /metrics. */
static void test_socket_activation_named(void **state)
{
        static char l1[48], l2[48];
        const char *const wrapper[] = {"systemd-socket-activate", "-l", l1, "-l", l2,
                                       "--fdname=http:metrics",   NULL};
        struct daemon_options o = {.wrapper = wrapper, .external_listener = true, .no_wait = true};
        struct daemon d = {0};
        struct http_result r;
        int p1 = harness_free_port(), p2 = harness_free_port();
        (void)state;

        if (!harness_have_program("systemd-socket-activate"))
                skip();
        assert_true(p1 > 0 && p2 > 0 && p1 != p2);
        snprintf(l1, sizeof(l1), "127.0.0.1:%d", p1);
        snprintf(l2, sizeof(l2), "127.0.0.1:%d", p2);
        assert_int_equal(harness_prepare(&d, &o), 0);
        snprintf(d.base_url, sizeof(d.base_url), "http://%s", l1);
        assert_int_equal(harness_start(&d, &o), 0);
        struct daemon m = metrics_view(&d, p2);
        /* The wrapper starts the daemon on the first connection. */
        long st = -1;
        struct harness_deadline dl = harness_deadline_in(4000);
        while (st < 0) {
                if (http_get(&d, "/livez", NULL, &r) == 0) {
                        st = r.status;
                        http_result_free(&r);
                } else if (!harness_pause(&dl))
                        break;
        }
        assert_int_equal(st, 200);
        assert_int_equal(http_get(&d, "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_result_free(&r);
        static const char *const wanted[] = {
                "verstak_http_requests_total{method=\"GET\",route=\"/livez\",status=\"200\"}"};
        static const double at_least[] = {1};
        char *text = scrape(&m, wanted, at_least, 1);
        assert_true(sample(text, wanted[0]) >= 1);
        free(text);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metrics_listener),
                cmocka_unit_test(test_no_metrics_by_default),
                cmocka_unit_test(test_socket_activation_named),
        };
        int failed;

        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
                return 1;
        failed = cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
        curl_global_cleanup();
        return failed;
}
