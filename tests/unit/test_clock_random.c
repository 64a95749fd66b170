/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/clock.h and util/random.h: the monotonic clock and
 * the random hex ids every layer uses.  No assertion depends on how long
 * anything takes, only on the clock never running backwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/random.h"

static uint64_t ts_usec(const struct timespec *ts)
{
        return (uint64_t)ts->tv_sec * 1000000u + (uint64_t)ts->tv_nsec / 1000u;
}

static void test_now_never_goes_back(void **state)
{
        uint64_t prev = clock_now_usec();
        (void)state;

        assert_true(prev > 0);
        for (int i = 0; i < 1000; i++) {
                uint64_t now = clock_now_usec();
                assert_true(now >= prev);
                prev = now;
        }
}

/* The deadline lies at least usec past the moment before the call and at
 * most usec past the moment after it, with a normalised timespec. */
static void test_after_is_offset_from_now(void **state)
{
        static const uint64_t offsets[] = {0, 1, 999999, 1000000, 1500000, 3600u * 1000000u};
        (void)state;

        for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
                uint64_t before = clock_now_usec();
                struct timespec ts = clock_after_usec(offsets[i]);
                uint64_t after = clock_now_usec();

                assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
                assert_true(ts_usec(&ts) >= before + offsets[i]);
                assert_true(ts_usec(&ts) <= after + offsets[i]);
        }
}

static void test_random_hex(void **state)
{
        char a[17], b[17], wide[129];
        (void)state;

        memset(a, 'x', sizeof(a));
        random_hex(a, 16);
        random_hex(b, 16);
        assert_int_equal(strlen(a), 16);
        assert_int_equal(strspn(a, "0123456789abcdef"), 16);
        /* Two 64-bit draws are equal with probability 2^-64. */
        assert_string_not_equal(a, b);

        random_hex(wide, 128);
        assert_int_equal(strlen(wide), 128);
        assert_int_equal(strspn(wide, "0123456789abcdef"), 128);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_now_never_goes_back),
                cmocka_unit_test(test_after_is_offset_from_now),
                cmocka_unit_test(test_random_hex),
        };

        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
