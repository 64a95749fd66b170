/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of api/longpoll.h across real threads: wake-ups by a push in
 * the scope, by the deadline (the timer thread), by a revocation and by
 * shutdown; cancellation; and no lost wake-up when a push races a waiter
 * that is about to suspend.
 *
 * The request's suspension is libmicrohttpd's business and is covered by
 * the integration suite against the real daemon; here the two calls
 * longpoll makes into the HTTP layer, http_request_suspend() and
 * http_request_resume(), are replaced at link time (-Wl,--wrap) so that
 * each records what happened to its request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/longpoll.h"
#include "util/clock.h"

/* A request and what longpoll did with it. */
struct test_req {
        struct http_request req;
        atomic_int suspended;
        atomic_int resumed;
};

static pthread_mutex_t resume_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t resume_cond = PTHREAD_COND_INITIALIZER;

int __wrap_http_request_suspend(struct http_request *req, http_handler_fn resume_handler);
void __wrap_http_request_resume(struct http_request *req);

int __wrap_http_request_suspend(struct http_request *req, http_handler_fn resume_handler)
{
        struct test_req *t = (struct test_req *)((char *)req - offsetof(struct test_req, req));
        (void)resume_handler;
        atomic_fetch_add(&t->suspended, 1);
        return 0;
}

void __wrap_http_request_resume(struct http_request *req)
{
        struct test_req *t = (struct test_req *)((char *)req - offsetof(struct test_req, req));
        pthread_mutex_lock(&resume_lock);
        atomic_fetch_add(&t->resumed, 1);
        pthread_cond_broadcast(&resume_cond);
        pthread_mutex_unlock(&resume_lock);
}

static int resume_handler(struct http_request *req)
{
        (void)req;
        return 0;
}

/* Wait until t was resumed; fail after 30 s (a hang is the bug). */
static void wait_resumed(struct test_req *t)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 30;
        pthread_mutex_lock(&resume_lock);
        while (atomic_load(&t->resumed) == 0)
                if (pthread_cond_timedwait(&resume_cond, &resume_lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&resume_lock);
        assert_int_equal(atomic_load(&t->resumed), 1);
}

/* A deadline no test reaches. */
static uint64_t far(void)
{
        return clock_now_usec() + 3600ull * 1000000u;
}

static int wait_on(struct longpoll *lp, struct test_req *t, const char *user, const char *vault,
                   const char *device, int64_t seq, uint64_t deadline)
{
        return longpoll_wait(lp, &t->req, user, vault, device, seq, deadline, resume_handler);
}

static void test_push_wakes_its_scope_only(void **state)
{
        struct longpoll *lp;
        struct test_req a = {0}, b = {0}, c = {0};
        (void)state;

        assert_int_equal(longpoll_new(&lp), 0);
        assert_int_equal(wait_on(lp, &a, "u1", "v1", "dev_a", 10, far()), 1);
        assert_int_equal(wait_on(lp, &b, "u1", "v2", "dev_b", 10, far()), 1);
        assert_int_equal(wait_on(lp, &c, "u2", "v1", "dev_c", 10, far()), 1);
        assert_int_equal(atomic_load(&a.suspended), 1);
        assert_int_equal(longpoll_waiting(lp), 3);

        longpoll_notify(lp, "u1", "v1", 11);
        /* Resumed synchronously, under the table's lock. */
        assert_int_equal(atomic_load(&a.resumed), 1);
        assert_int_equal(atomic_load(&b.resumed), 0);
        assert_int_equal(atomic_load(&c.resumed), 0);
        assert_null(a.req.state);
        assert_int_equal(longpoll_waiting(lp), 2);

        /* A waiter whose snapshot is older than a notification already
         * received does not sleep: it must re-read. */
        struct test_req late = {0};
        assert_int_equal(wait_on(lp, &late, "u1", "v1", "dev_a", 10, far()), 0);
        assert_int_equal(atomic_load(&late.suspended), 0);
        assert_int_equal(wait_on(lp, &late, "u1", "v1", "dev_a", 11, far()), 1);
        longpoll_cancel(lp, &late.req);
        assert_null(late.req.state);

        longpoll_free(lp); /* shutdown resumes b and c */
        assert_int_equal(atomic_load(&b.resumed), 1);
        assert_int_equal(atomic_load(&c.resumed), 1);
        assert_int_equal(atomic_load(&late.resumed), 0); /* cancelled: forgotten */
}

/* Pushes in unknown scopes (another daemon's, not heard): every waiter
 * wakes, and one whose snapshot predates them re-reads instead of
 * sleeping; a later snapshot sleeps as usual. */
static void test_notify_all(void **state)
{
        struct longpoll *lp;
        struct test_req a = {0}, b = {0}, late = {0};
        (void)state;

        assert_int_equal(longpoll_new(&lp), 0);
        assert_int_equal(wait_on(lp, &a, "u1", "v1", "dev_a", 10, far()), 1);
        assert_int_equal(wait_on(lp, &b, "u2", "v2", "dev_b", 10, far()), 1);
        longpoll_notify_all(lp, 15);
        assert_int_equal(atomic_load(&a.resumed), 1);
        assert_int_equal(atomic_load(&b.resumed), 1);
        assert_int_equal(longpoll_waiting(lp), 0);
        assert_int_equal(wait_on(lp, &late, "u3", "v3", "dev_c", 14, far()), 0);
        assert_int_equal(atomic_load(&late.suspended), 0);
        assert_int_equal(wait_on(lp, &late, "u3", "v3", "dev_c", 15, far()), 1);
        /* An older "all" does not lower the mark. */
        longpoll_notify_all(lp, 12);
        assert_int_equal(atomic_load(&late.resumed), 1);
        struct test_req again = {0};
        assert_int_equal(wait_on(lp, &again, "u3", "v3", "dev_c", 14, far()), 0);
        longpoll_free(lp);
}

static void test_deadline(void **state)
{
        struct longpoll *lp;
        struct test_req soon = {0}, later = {0};
        (void)state;

        assert_int_equal(longpoll_new(&lp), 0);
        assert_int_equal(wait_on(lp, &later, "u", "v", "d1", 0, far()), 1);
        assert_int_equal(wait_on(lp, &soon, "u", "v", "d2", 0, clock_now_usec() + 20000), 1);
        /* The timer thread resumes the one whose deadline passed. */
        wait_resumed(&soon);
        assert_int_equal(atomic_load(&later.resumed), 0);
        assert_int_equal(longpoll_waiting(lp), 1);
        /* A deadline already past is handled by the timer too. */
        struct test_req past = {0};
        assert_int_equal(wait_on(lp, &past, "u", "v", "d3", 0, 1), 1);
        wait_resumed(&past);
        longpoll_free(lp);
        assert_int_equal(atomic_load(&later.resumed), 1);
}

static void test_revoked_device_and_shutdown(void **state)
{
        struct longpoll *lp;
        struct test_req a1 = {0}, a2 = {0}, b = {0}, after = {0};
        (void)state;

        assert_int_equal(longpoll_new(&lp), 0);
        assert_int_equal(wait_on(lp, &a1, "u", "v", "dev_a", 0, far()), 1);
        assert_int_equal(wait_on(lp, &a2, "u", "w", "dev_a", 0, far()), 1);
        assert_int_equal(wait_on(lp, &b, "u", "v", "dev_b", 0, far()), 1);
        longpoll_wake_device(lp, "dev_a");
        assert_int_equal(atomic_load(&a1.resumed), 1);
        assert_int_equal(atomic_load(&a2.resumed), 1);
        assert_int_equal(atomic_load(&b.resumed), 0);

        longpoll_shutdown(lp);
        assert_int_equal(atomic_load(&b.resumed), 1);
        assert_int_equal(longpoll_waiting(lp), 0);
        assert_int_equal(wait_on(lp, &after, "u", "v", "dev_b", 0, far()), -ESHUTDOWN);
        assert_int_equal(atomic_load(&after.suspended), 0);
        longpoll_free(lp);

        /* NULL is a no-op for the calls the server makes without a table. */
        longpoll_notify(NULL, "u", "v", 1);
        longpoll_wake_device(NULL, "d");
        longpoll_cancel(NULL, &after.req);
        longpoll_shutdown(NULL);
        longpoll_free(NULL);
        assert_int_equal(longpoll_waiting(NULL), 0);
}

/*
 * No lost wake-up: a pusher commits sequence n and notifies while a waiter
 * that read the store at n - 1 suspends.  Whatever the interleaving, the
 * waiter either declines to sleep (0) or is resumed by that notification;
 * it is never left suspended with its deadline an hour away.
 */
#define RACE_ROUNDS 2000

struct race {
        struct longpoll *lp;
        pthread_barrier_t start;
        struct test_req reqs[RACE_ROUNDS];
        int result[RACE_ROUNDS];
};

static void *race_waiter(void *arg)
{
        struct race *r = arg;
        for (int i = 0; i < RACE_ROUNDS; i++) {
                pthread_barrier_wait(&r->start);
                r->result[i] = wait_on(r->lp, &r->reqs[i], "u", "v", "d", i, far());
                pthread_barrier_wait(&r->start);
        }
        return NULL;
}

static void test_no_lost_wakeup(void **state)
{
        struct race *r = calloc(1, sizeof(*r));
        pthread_t t;
        int slept = 0, declined = 0;
        (void)state;

        assert_non_null(r);
        assert_int_equal(longpoll_new(&r->lp), 0);
        assert_int_equal(pthread_barrier_init(&r->start, NULL, 2), 0);
        assert_int_equal(pthread_create(&t, NULL, race_waiter, r), 0);
        for (int i = 0; i < RACE_ROUNDS; i++) {
                pthread_barrier_wait(&r->start);
                longpoll_notify(r->lp, "u", "v", i + 1); /* races the waiter */
                pthread_barrier_wait(&r->start);
                /* Both are done with round i. */
                if (r->result[i] == 1) {
                        slept++;
                        assert_int_equal(atomic_load(&r->reqs[i].resumed), 1);
                } else {
                        declined++;
                        assert_int_equal(r->result[i], 0);
                        assert_int_equal(atomic_load(&r->reqs[i].suspended), 0);
                }
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(slept + declined, RACE_ROUNDS);
        assert_int_equal(longpoll_waiting(r->lp), 0);
        longpoll_free(r->lp);
        pthread_barrier_destroy(&r->start);
        free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_push_wakes_its_scope_only),
                cmocka_unit_test(test_notify_all),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_revoked_device_and_shutdown),
                cmocka_unit_test(test_no_lost_wakeup),
        };
        return cmocka_run_group_tests_name("longpoll", tests, NULL, NULL);
}
