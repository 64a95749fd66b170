/* SPDX-License-Identifier: MIT */
/*
 * Several daemons behind one load balancer: three real daemons behind
 * tests/integration/roundrobin.py (harness_rr_*).  Each connection reaches
 * the next daemon in turn, and after kill -9 of one of them the others keep
 * serving every request.  The daemons are told apart by web.server_name
 * (GET /api/v1/site).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define N_DAEMONS 3

/* The server_name of the daemon that answered GET /api/v1/site through
 * the front, as an index (0..N_DAEMONS-1); fails on anything but 200. */
static int answered_by(struct daemon *front)
{
        struct http_result res = {0};
        const char *name;
        int idx = -1;

        assert_int_equal(http_do(front, "GET", "/api/v1/site", NULL, NULL, 0, &res), 0);
        assert_int_equal(res.status, 200);
        assert_non_null(res.json);
        name = json_string_value(json_object_get(res.json, "server_name"));
        assert_non_null(name);
        assert_int_equal(sscanf(name, "daemon-%d", &idx), 1);
        assert_true(idx >= 0 && idx < N_DAEMONS);
        http_result_free(&res);
        return idx;
}

static void test_round_robin_and_kill(void **state)
{
        struct daemon d[N_DAEMONS];
        struct daemon *ds[N_DAEMONS];
        struct harness_rr rr = HARNESS_RR_INIT;
        char yaml[N_DAEMONS][64];
        int seen[N_DAEMONS] = {0}, status;
        (void)state;

        for (int i = 0; i < N_DAEMONS; i++) {
                snprintf(yaml[i], sizeof(yaml[i]), "web:\n  server_name: daemon-%d\n", i);
                struct daemon_options o = {.config_yaml = yaml[i]};
                assert_int_equal(harness_start(&d[i], &o), 0);
                ds[i] = &d[i];
        }
        assert_int_equal(harness_rr_start(&rr, ds, N_DAEMONS), 0);

        /* Two rounds: every daemon answers twice, in turn. */
        for (int i = 0; i < 2 * N_DAEMONS; i++)
                seen[answered_by(&rr.front)]++;
        for (int i = 0; i < N_DAEMONS; i++)
                assert_int_equal(seen[i], 2);

        /* kill -9 the second daemon: every request is still answered, by
         * the others. */
        assert_int_equal(harness_stop(&d[1], SIGKILL, 10, &status), 0);
        assert_true(WIFSIGNALED(status));
        memset(seen, 0, sizeof(seen));
        for (int i = 0; i < 2 * N_DAEMONS; i++)
                seen[answered_by(&rr.front)]++;
        assert_int_equal(seen[1], 0);
        assert_true(seen[0] > 0);
        assert_true(seen[2] > 0);

        harness_rr_stop(&rr);
        for (int i = 0; i < N_DAEMONS; i++)
                harness_destroy(&d[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_robin_and_kill),
        };
        return cmocka_run_group_tests_name("multi-daemon", tests, NULL, NULL);
}
