/* SPDX-License-Identifier: MIT */
/* Unit tests of util/workq.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "util/workq.h"

struct counter {
        atomic_int started;
        atomic_int ran;
        atomic_int done;
        int order[16];
        atomic_int n;
};

struct item {
        struct counter *c;
        int id;
        unsigned sleep_ms;
        atomic_bool *hold; /* when set: wait (at most 10 s) until it is false */
};

static void run_item(void *data)
{
        struct item *it = data;
        atomic_fetch_add(&it->c->started, 1);
        for (int i = 0; it->hold && atomic_load(it->hold) && i < 10000; i++)
                usleep(1000);
        if (it->sleep_ms)
                usleep(it->sleep_ms * 1000);
        int i = atomic_fetch_add(&it->c->n, 1);
        if (i < 16)
                it->c->order[i] = it->id;
        atomic_fetch_add(&it->c->ran, 1);
}

static void done_item(void *data)
{
        struct item *it = data;
        atomic_fetch_add(&it->c->done, 1);
}

static void test_runs_in_order(void **state)
{
        struct counter c = {0};
        struct item items[8];
        struct workq *q;
        (void)state;

        assert_int_equal(workq_new(8, &q), 0);
        for (int i = 0; i < 8; i++) {
                items[i] = (struct item){&c, i, 0};
                assert_int_equal(workq_submit(q, run_item, done_item, &items[i]), 0);
        }
        assert_int_equal(workq_free(q, 5000), 0);
        assert_int_equal(c.ran, 8);
        assert_int_equal(c.done, 8);
        for (int i = 0; i < 8; i++)
                assert_int_equal(c.order[i], i);
}

static void test_full_queue(void **state)
{
        struct counter c = {0};
        atomic_bool hold = true;
        struct item slow = {&c, 0, 0, &hold}, items[3];
        struct workq *q;
        (void)state;

        assert_int_equal(workq_new(2, &q), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        /* The worker holds the slow job (until released below). */
        for (int i = 0; atomic_load(&c.started) == 0 && i < 10000; i++)
                usleep(1000);
        assert_int_equal(atomic_load(&c.started), 1);
        for (int i = 0; i < 2; i++) {
                items[i] = (struct item){&c, i + 1, 0};
                assert_int_equal(workq_submit(q, run_item, done_item, &items[i]), 0);
        }
        items[2] = (struct item){&c, 3, 0};
        assert_int_equal(workq_submit(q, run_item, done_item, &items[2]), -EAGAIN);
        assert_int_equal(workq_pending(q), 3);
        atomic_store(&hold, false);
        assert_int_equal(workq_free(q, 5000), 0);
        assert_int_equal(c.ran, 3);
        assert_int_equal(c.done, 3);
}

static void test_deadline_drops_rest(void **state)
{
        struct counter c = {0};
        struct item slow = {&c, 0, 300}, later = {&c, 1, 0};
        struct workq *q;
        (void)state;

        assert_int_equal(workq_new(4, &q), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &later), 0);
        usleep(20 * 1000);
        assert_int_equal(workq_free(q, 50), -ETIMEDOUT); /* the slow job still runs */
        usleep(500 * 1000);
        /* The running job finished; the queued one was dropped, not run. */
        assert_int_equal(c.ran, 1);
        assert_int_equal(c.done, 2);
}

static void test_submit_wait(void **state)
{
        struct counter c = {0};
        struct item quick = {&c, 0, 0}, slow = {&c, 1, 300}, after = {&c, 2, 0};
        struct workq *q;
        (void)state;

        assert_int_equal(workq_new(4, &q), 0);
        assert_int_equal(workq_submit_wait(q, run_item, done_item, &quick, 2000), 0);
        assert_int_equal(c.ran, 1);
        /* A job behind a slow one: the wait ends at the deadline. */
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        assert_int_equal(workq_submit_wait(q, run_item, done_item, &after, 50), -ETIMEDOUT);
        assert_int_equal(workq_free(q, 5000), 0);
        assert_int_equal(c.ran, 3);
        assert_int_equal(c.done, 3);
        assert_int_equal(c.order[2], 2);
}

static void test_free_null_and_idle(void **state)
{
        struct workq *q;
        (void)state;

        assert_int_equal(workq_free(NULL, 0), 0);
        assert_int_equal(workq_new(1, &q), 0);
        assert_int_equal(workq_pending(q), 0);
        assert_int_equal(workq_free(q, 0), 0);
        assert_int_equal(workq_new(0, &q), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runs_in_order),       cmocka_unit_test(test_full_queue),
                cmocka_unit_test(test_deadline_drops_rest), cmocka_unit_test(test_submit_wait),
                cmocka_unit_test(test_free_null_and_idle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
