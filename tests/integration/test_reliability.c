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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        struct daemon d;
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
        for (int i = 0; i < 500 && status != 200; i++) {
                status = get_status(&d, "/readyz", NULL);
                if (status != 200)
                        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        }
        assert_int_equal(status, 200);
        /* ... and writes work again. */
        push_one(&d, token, "after-lock", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 1);
        http_result_free(&r);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_lock_held_elsewhere),
        };
        return cmocka_run_group_tests_name("reliability", tests, NULL, NULL);
}
