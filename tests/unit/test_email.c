/* SPDX-License-Identifier: MIT */
/* Unit tests of util/email.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/email.h"

static void test_email_normalize_ok(void **state)
{
        static const char *const cases[][2] = {
                {"user@example.org", "user@example.org"},
                {"  User.Name+tag@Example.ORG\t", "user.name+tag@example.org"},
                {"a@b.co", "a@b.co"},
                {"o'brien@mail.example-host.net", "o'brien@mail.example-host.net"},
                {"x_y!#$%&*/=?^`{|}~-z@sub.example.org", "x_y!#$%&*/=?^`{|}~-z@sub.example.org"},
        };
        char out[EMAIL_MAX + 1];
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(email_normalize(cases[i][0], out), 0);
                assert_string_equal(out, cases[i][1]);
        }
}

static void test_email_normalize_rejects(void **state)
{
        static const char *const bad[] = {
                "",
                "   ",
                "plain",
                "@example.org",
                "user@",
                "user@@example.org",
                "a@b@example.org",
                "user@localhost",
                "user@example..org",
                "user@.example.org",
                "user@example.org.",
                "user@-example.org",
                "user@example-.org",
                ".user@example.org",
                "user.@example.org",
                "us..er@example.org",
                "us er@example.org",
                "\"quoted\"@example.org",
                "Name <user@example.org>",
                "user@example.org\r\nBcc: victim@example.org",
                "user@example.org\n",
                "user\r@example.org",
                "user@exa_mple.org",
                "user@[127.0.0.1]",
                "usér@example.org",
                "user,other@example.org",
        };
        char out[EMAIL_MAX + 1];
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (email_normalize(bad[i], out) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
        }
        assert_int_equal(email_normalize(NULL, out), -EINVAL);
}

static void test_email_normalize_lengths(void **state)
{
        char in[400], out[EMAIL_MAX + 1];
        (void)state;

        /* 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254: the longest accepted. */
        snprintf(in, sizeof(in), "%064d@%063d.%063d.%061d", 0, 0, 0, 0);
        assert_int_equal(strlen(in), 254);
        assert_int_equal(email_normalize(in, out), 0);
        snprintf(in, sizeof(in), "%064d@%063d.%063d.%062d", 0, 0, 0, 0);
        assert_int_equal(email_normalize(in, out), -EINVAL);
        /* Surrounding blanks do not count. */
        snprintf(in, sizeof(in), "   %064d@%063d.%063d.%061d  ", 0, 0, 0, 0);
        assert_int_equal(email_normalize(in, out), 0);
        /* Local part 65, label 64. */
        snprintf(in, sizeof(in), "%065d@example.org", 0);
        assert_int_equal(email_normalize(in, out), -EINVAL);
        snprintf(in, sizeof(in), "a@%064d.org", 0);
        assert_int_equal(email_normalize(in, out), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_email_normalize_ok),
                cmocka_unit_test(test_email_normalize_rejects),
                cmocka_unit_test(test_email_normalize_lengths),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
