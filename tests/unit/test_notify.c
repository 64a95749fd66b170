/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/notify.h against a NOTIFY_SOCKET this test owns (a
 * datagram socket in a temporary directory): what reaches the service
 * manager and when, the watchdog schedule, and the no-op without a socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/notify.h"
#include "util/clock.h"

struct fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX];
        int fd;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        const char *tmp = getenv("TMPDIR");

        if (!f)
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s/verstak-notify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->path, sizeof(f->path), "%.200s/notify.sock", f->dir);
        if (strlen(f->path) >= sizeof(sun.sun_path))
                return -1;
        strcpy(sun.sun_path, f->path);
        f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
                return -1;
        setenv("NOTIFY_SOCKET", f->path, 1);
        unsetenv("WATCHDOG_PID");
        setenv("WATCHDOG_USEC", "2000000", 1);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        close(f->fd);
        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* The next datagram, already sent (sd_notify() returns after sendmsg()),
 * or "" when there is none. */
static const char *next_message(const struct fixture *f)
{
        static char buf[4096];
        ssize_t n = recv(f->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        if (n < 0) {
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
                n = 0;
        }
        buf[n] = '\0';
        return buf;
}

static void test_watchdog_schedule(void **state)
{
        struct fixture *f = *state;
        struct watchdog w;
        uint64_t now = 1000000000u;

        assert_int_equal(watchdog_init(&w, now), 1);
        assert_int_equal(w.interval_usec, 1000000u);   /* half of WATCHDOG_USEC */
        assert_int_equal(watchdog_due_in(&w, now), 0); /* first ping right away */
        assert_int_equal(watchdog_probe_timeout_ms(&w), 125);

        assert_int_equal(watchdog_feed(&w, now, 0), 1);
        assert_string_equal(next_message(f), "WATCHDOG=1");
        assert_string_equal(next_message(f), "");
        assert_int_equal(watchdog_due_in(&w, now), 1000000u);
        assert_int_equal(watchdog_due_in(&w, now + 400000u), 600000u);
        assert_int_equal(watchdog_due_in(&w, now + 5000000u), 0);
}

static void test_watchdog_withheld_and_resumed(void **state)
{
        struct fixture *f = *state;
        struct watchdog w;
        uint64_t now = 50000000u;

        assert_int_equal(watchdog_init(&w, now), 1);
        /* A failed probe: no ping, one status, a retry at a fifth of the
         * interval. */
        assert_int_equal(watchdog_feed(&w, now, -ETIMEDOUT), 0);
        assert_true(w.wedged);
        assert_string_equal(next_message(f), "STATUS=Database not answering; watchdog withheld");
        assert_string_equal(next_message(f), "");
        assert_int_equal(watchdog_due_in(&w, now), 200000u);
        /* Still failing: said once only. */
        assert_int_equal(watchdog_feed(&w, now + 200000u, -EBUSY), 0);
        assert_string_equal(next_message(f), "");
        /* It answers again: a ping, the normal interval. */
        assert_int_equal(watchdog_feed(&w, now + 400000u, 0), 1);
        assert_false(w.wedged);
        assert_string_equal(next_message(f), "WATCHDOG=1");
        assert_int_equal(watchdog_due_in(&w, now + 400000u), 1000000u);
}

static void test_probe_timeout_bounds(void **state)
{
        struct watchdog w = {.interval_usec = 1000};
        (void)state;

        assert_int_equal(watchdog_probe_timeout_ms(&w), 10); /* lower bound */
        w.interval_usec = 60ull * 1000000u;
        assert_int_equal(watchdog_probe_timeout_ms(&w), 1000); /* upper bound */
}

static void test_reloading(void **state)
{
        struct fixture *f = *state;

        notify_reloading(123456789u);
        assert_string_equal(next_message(f),
                            "RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=Reloading");
        uint64_t a = clock_now_usec(), b = clock_now_usec();
        assert_true(a > 0 && b >= a);
}

static void test_without_socket(void **state)
{
        struct fixture *f = *state;
        struct watchdog w;

        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        assert_int_equal(watchdog_init(&w, 5), 0);
        assert_int_equal(w.interval_usec, 0);
        assert_int_equal(watchdog_due_in(&w, 5), UINT64_MAX);
        assert_int_equal(watchdog_feed(&w, 5, 0), 0);
        assert_int_equal(watchdog_feed(&w, 5, -EIO), 0);
        notify_reloading(5);
        assert_string_equal(next_message(f), "");
        /* A watchdog meant for another process is not ours. */
        setenv("NOTIFY_SOCKET", f->path, 1);
        setenv("WATCHDOG_USEC", "2000000", 1);
        setenv("WATCHDOG_PID", "1", 1);
        assert_int_equal(watchdog_init(&w, 5), 0);
        unsetenv("WATCHDOG_PID");
        /* A malformed value is an error, not a silent off. */
        setenv("WATCHDOG_USEC", "soon", 1);
        assert_true(watchdog_init(&w, 5) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_watchdog_schedule, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watchdog_withheld_and_resumed, setup,
                                                teardown),
                cmocka_unit_test(test_probe_timeout_bounds),
                cmocka_unit_test_setup_teardown(test_reloading, setup, teardown),
                cmocka_unit_test_setup_teardown(test_without_socket, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
