/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/workq.h.  A job that must still be running when the
 * test acts blocks on a gate the test opens; nothing here sleeps or
 * measures time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util/workq.h"

struct counter {
        atomic_int ran;
        atomic_int done;
        int order[16];
        atomic_int n;
};

/* A job that says it started and waits until the test lets it finish. */
struct gate {
        sem_t started;
        sem_t open;
        sem_t done; /* posted by every done_item() */
};

struct item {
        struct counter *c;
        int id;
        struct gate *gate; /* NULL: run straight through */
};

/* Wait for sem, failing the test after 30 s (a hang is a bug here). */
static void wait_sem(sem_t *sem)
{
        struct timespec ts;

        assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
        ts.tv_sec += 30;
        while (sem_timedwait(sem, &ts) < 0) {
                assert_int_equal(errno, EINTR);
        }
}

static void gate_init(struct gate *g)
{
        assert_int_equal(sem_init(&g->started, 0, 0), 0);
        assert_int_equal(sem_init(&g->open, 0, 0), 0);
        assert_int_equal(sem_init(&g->done, 0, 0), 0);
}

static void gate_destroy(struct gate *g)
{
        sem_destroy(&g->started);
        sem_destroy(&g->open);
        sem_destroy(&g->done);
}

static void run_item(void *data)
{
        struct item *it = data;
        if (it->gate) {
                sem_post(&it->gate->started);
                wait_sem(&it->gate->open);
        }
        int i = atomic_fetch_add(&it->c->n, 1);
        if (i < 16)
                it->c->order[i] = it->id;
        atomic_fetch_add(&it->c->ran, 1);
}

static void done_item(void *data)
{
        struct item *it = data;
        atomic_fetch_add(&it->c->done, 1);
        if (it->gate)
                sem_post(&it->gate->done);
}

static void test_runs_in_order(void **state)
{
        struct counter c = {0};
        struct item items[8];
        struct workq *q;
        (void)state;

        assert_int_equal(workq_new(8, &q), 0);
        for (int i = 0; i < 8; i++) {
                items[i] = (struct item){&c, i, NULL};
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
        struct gate g;
        struct item slow = {&c, 0, &g}, items[3];
        struct workq *q;
        (void)state;

        gate_init(&g);
        assert_int_equal(workq_new(2, &q), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        wait_sem(&g.started); /* the worker holds the slow job now */
        for (int i = 0; i < 2; i++) {
                items[i] = (struct item){&c, i + 1, NULL};
                assert_int_equal(workq_submit(q, run_item, done_item, &items[i]), 0);
        }
        items[2] = (struct item){&c, 3, NULL};
        assert_int_equal(workq_submit(q, run_item, done_item, &items[2]), -EAGAIN);
        assert_int_equal(workq_pending(q), 3);
        sem_post(&g.open);
        assert_int_equal(workq_free(q, 30000), 0);
        gate_destroy(&g);
        assert_int_equal(c.ran, 3);
        assert_int_equal(c.done, 3);
}

static void test_deadline_drops_rest(void **state)
{
        struct counter c = {0};
        /* Both share the gate: later's done() posts it too. */
        static struct gate g;
        struct item slow = {&c, 0, &g}, later = {&c, 1, &g};
        struct workq *q;
        (void)state;

        gate_init(&g);
        assert_int_equal(workq_new(4, &q), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        assert_int_equal(workq_submit(q, run_item, done_item, &later), 0);
        wait_sem(&g.started);
        assert_int_equal(workq_free(q, 50), -ETIMEDOUT); /* the slow job still runs */
        sem_post(&g.open);
        /* The worker finishes the running job, drops the queued one (its
         * done() runs, the job does not) and frees the queue itself. */
        wait_sem(&g.done);
        wait_sem(&g.done);
        assert_int_equal(c.ran, 1);
        assert_int_equal(c.done, 2);
        assert_int_equal(c.order[0], 0);
}

static void test_submit_wait(void **state)
{
        struct counter c = {0};
        struct gate g;
        struct item quick = {&c, 0, NULL}, slow = {&c, 1, &g}, after = {&c, 2, NULL};
        struct workq *q;
        (void)state;

        gate_init(&g);
        assert_int_equal(workq_new(4, &q), 0);
        assert_int_equal(workq_submit_wait(q, run_item, done_item, &quick, 30000), 0);
        assert_int_equal(c.ran, 1);
        /* A job behind a blocked one: the wait ends at the deadline. */
        assert_int_equal(workq_submit(q, run_item, done_item, &slow), 0);
        wait_sem(&g.started);
        assert_int_equal(workq_submit_wait(q, run_item, done_item, &after, 50), -ETIMEDOUT);
        sem_post(&g.open);
        assert_int_equal(workq_free(q, 30000), 0);
        gate_destroy(&g);
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
