/* SPDX-License-Identifier: MIT */
/* Unit tests of api/mail_texts.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/mail_texts.h"

#define LINK "https://sync.example.org/api/v1/auth/confirm?token=abc"

static void test_render_confirm_en(void **state)
{
        struct mail_message m = {0};
        (void)state;

        assert_int_equal(mail_text_render(MAIL_TEXT_CONFIRM, "en", "My Sync", "alice", LINK, &m),
                         0);
        assert_string_equal(m.subject, "Confirm your e-mail address for My Sync");
        assert_true(strncmp(m.body, "Hello, alice!\n", 14) == 0);
        assert_non_null(strstr(m.body, "\n" LINK "\n"));
        assert_non_null(strstr(m.body, "48 hours"));
        assert_null(strstr(m.body, "@USER@"));
        assert_null(strstr(m.body, "@LINK@"));
        assert_null(strchr(m.subject, '\n'));
        mail_message_done(&m);
        mail_message_done(&m); /* idempotent */
}

static void test_render_reset_ru(void **state)
{
        struct mail_message m = {0};
        (void)state;

        assert_int_equal(mail_text_render(MAIL_TEXT_RESET, "ru", "Сервер", "иван",
                                          "https://x.example/reset?token=t", &m),
                         0);
        assert_string_equal(m.subject, "Сброс пароля для Сервер");
        assert_non_null(strstr(m.body, "Здравствуйте, иван!"));
        assert_non_null(strstr(m.body, "\nhttps://x.example/reset?token=t\n"));
        assert_non_null(strstr(m.body, "1 час"));
        mail_message_done(&m);
}

static void test_render_fallback_and_literal_values(void **state)
{
        struct mail_message m = {0};
        (void)state;

        /* Unknown languages get English; values are inserted literally. */
        assert_int_equal(mail_text_render(MAIL_TEXT_RESET, "de", "%s%n @LINK@", "bob %d", "L", &m),
                         0);
        assert_string_equal(m.subject, "Reset your password for %s%n @LINK@");
        assert_non_null(strstr(m.body, "Hello, bob %d!"));
        mail_message_done(&m);
        assert_int_equal(mail_text_render(MAIL_TEXT_CONFIRM, NULL, NULL, NULL, NULL, &m), 0);
        assert_string_equal(m.subject, "Confirm your e-mail address for ");
        mail_message_done(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render_confirm_en),
                cmocka_unit_test(test_render_reset_ru),
                cmocka_unit_test(test_render_fallback_and_literal_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
