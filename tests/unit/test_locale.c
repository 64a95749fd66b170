/* SPDX-License-Identifier: MIT */
/* Unit tests of http/locale.h (the pure parts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/locale.h"

static void assert_locale(const char *got, const char *want)
{
        if (!want)
                assert_null(got);
        else {
                assert_non_null(got);
                assert_string_equal(got, want);
        }
}

static void test_locale_supported(void **state)
{
        (void)state;
        assert_locale(locale_supported("en"), "en");
        assert_locale(locale_supported("RU"), "ru");
        assert_locale(locale_supported("ru-RU"), "ru");
        assert_locale(locale_supported("en_GB"), "en");
        assert_locale(locale_supported("de"), NULL);
        assert_locale(locale_supported("rus"), NULL);
        assert_locale(locale_supported("ru-"), NULL);
        assert_locale(locale_supported(""), NULL);
        assert_locale(locale_supported(NULL), NULL);
}

static void test_accept_language(void **state)
{
        (void)state;
        assert_locale(locale_from_accept_language("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), "ru");
        assert_locale(locale_from_accept_language("en-US,en;q=0.9,ru;q=0.8"), "en");
        assert_locale(locale_from_accept_language("de-DE, ru;q=0.5, en;q=0.6"), "en");
        assert_locale(locale_from_accept_language("de-DE,fr;q=0.8"), NULL);
        assert_locale(locale_from_accept_language("ru;q=0, en;q=0.1"), "en");
        assert_locale(locale_from_accept_language("ru;q=0"), NULL);
        assert_locale(locale_from_accept_language("*"), NULL);
        /* Equal weights: the first wins. */
        assert_locale(locale_from_accept_language("ru, en"), "ru");
        assert_locale(locale_from_accept_language(" en ;q=1.0 , ru"), "en");
        assert_locale(locale_from_accept_language("ru;q=bogus, en;q=0.2"), "en");
        assert_locale(locale_from_accept_language(""), NULL);
        assert_locale(locale_from_accept_language(NULL), NULL);

        char huge[2048];
        memset(huge, 'x', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        memcpy(huge, "ru,", 3);
        assert_locale(locale_from_accept_language(huge), NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_locale_supported),
                cmocka_unit_test(test_accept_language),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
