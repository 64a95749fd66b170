/* SPDX-License-Identifier: MIT */
/* Unit tests of http/range.c: single ranges, suffixes, open ends, and what
 * is ignored or unsatisfiable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/range.h"

static void expect_partial(const char *h, uint64_t size, uint64_t start, uint64_t len)
{
        uint64_t s = 99, l = 99;

        if (http_range_parse(h, size, &s, &l) != HTTP_RANGE_PARTIAL)
                fail_msg("'%s' on %llu: not partial", h, (unsigned long long)size);
        assert_int_equal(s, start);
        assert_int_equal(l, len);
}

static void expect(const char *h, uint64_t size, enum http_range want)
{
        uint64_t s, l;

        if (http_range_parse(h, size, &s, &l) != want)
                fail_msg("'%s' on %llu: unexpected result", h ? h : "(null)",
                         (unsigned long long)size);
}

static void test_range_partial(void **state)
{
        (void)state;
        expect_partial("bytes=0-0", 10, 0, 1);
        expect_partial("bytes=0-9", 10, 0, 10);
        expect_partial("bytes=3-5", 10, 3, 3);
        expect_partial("bytes=9-", 10, 9, 1);
        expect_partial("bytes=4-", 10, 4, 6);
        expect_partial("bytes=5-1000", 10, 5, 5);
        expect_partial("bytes=-3", 10, 7, 3);
        expect_partial("bytes=-10", 10, 0, 10);
        expect_partial("bytes=-1000", 10, 0, 10);
        expect_partial(" BYTES = 2 - 3 ", 10, 2, 2);
        expect_partial("bytes=0-99999999999999999999999", 10, 0, 10);
}

static void test_range_ignored(void **state)
{
        (void)state;
        expect(NULL, 10, HTTP_RANGE_NONE);
        expect("", 10, HTTP_RANGE_NONE);
        expect("items=0-1", 10, HTTP_RANGE_NONE);
        expect("bytes=0-1,3-4", 10, HTTP_RANGE_NONE);
        expect("bytes=-1,-2", 10, HTTP_RANGE_NONE);
        expect("bytes=5-3", 10, HTTP_RANGE_NONE);
        expect("bytes=a-b", 10, HTTP_RANGE_NONE);
        expect("bytes=-", 10, HTTP_RANGE_NONE);
        expect("bytes=1", 10, HTTP_RANGE_NONE);
        expect("bytes 0-1", 10, HTTP_RANGE_NONE);
}

static void test_range_unsatisfiable(void **state)
{
        (void)state;
        expect("bytes=10-", 10, HTTP_RANGE_UNSATISFIABLE);
        expect("bytes=10-20", 10, HTTP_RANGE_UNSATISFIABLE);
        expect("bytes=-0", 10, HTTP_RANGE_UNSATISFIABLE);
        expect("bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE);
        expect("bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE);
        expect("bytes=99999999999999999999999-", 10, HTTP_RANGE_UNSATISFIABLE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_range_partial),
                cmocka_unit_test(test_range_ignored),
                cmocka_unit_test(test_range_unsatisfiable),
        };
        return cmocka_run_group_tests_name("range", tests, NULL, NULL);
}
