/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/log: journal field names and the record builder that
 * both the journal path (sd_journal_sendv) and log_format_fields() use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/log.h"

static void test_log_field_name_valid_accepts(void **state)
{
        (void)state;
        assert_true(log_field_name_valid("MESSAGE"));
        assert_true(log_field_name_valid("HTTP_STATUS"));
        assert_true(log_field_name_valid("DURATION_US"));
        assert_true(log_field_name_valid("A1"));
        char longest[65];
        memset(longest, 'K', 64);
        longest[64] = '\0';
        assert_true(log_field_name_valid(longest));
}

static void test_log_field_name_valid_rejects(void **state)
{
        (void)state;
        assert_false(log_field_name_valid(NULL));
        assert_false(log_field_name_valid(""));
        assert_false(log_field_name_valid("_PID"));      /* trusted fields: journald's own */
        assert_false(log_field_name_valid("1ST"));       /* leading digit */
        assert_false(log_field_name_valid("http_path")); /* lower case */
        assert_false(log_field_name_valid("HTTP-PATH"));
        assert_false(log_field_name_valid("HTTP PATH"));
        assert_false(log_field_name_valid("KEY=VALUE"));
        char too_long[66];
        memset(too_long, 'K', 65);
        too_long[65] = '\0';
        assert_false(log_field_name_valid(too_long));
}

static void test_log_format_fields_request(void **state)
{
        char buf[1024];
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_STARTED},
                {"REQUEST_ID", "0123456789abcdef"},
                {"HTTP_METHOD", "GET"},
                {"HTTP_PATH", "/api/v1/health"},
                {"HTTP_STATUS", "200"},
                {"DURATION_US", "42"},
                {"DEVICE_ID", NULL}, /* absent: skipped */
                {"EVENT", "access"},
        };
        (void)state;

        int n = log_format_fields(buf, sizeof(buf), LOG_INFO, "verstak-sync-server", f,
                                  ELEMENTSOF(f), "GET /api/v1/health 200 42us");
        assert_int_equal(n, 3 + 7);
        assert_string_equal(buf, "MESSAGE=GET /api/v1/health 200 42us\n"
                                 "PRIORITY=6\n"
                                 "SYSLOG_IDENTIFIER=verstak-sync-server\n"
                                 "MESSAGE_ID=" LOG_MID_STARTED "\n"
                                 "REQUEST_ID=0123456789abcdef\n"
                                 "HTTP_METHOD=GET\n"
                                 "HTTP_PATH=/api/v1/health\n"
                                 "HTTP_STATUS=200\n"
                                 "DURATION_US=42\n"
                                 "EVENT=access\n");
}

static void test_log_format_fields_default_identifier(void **state)
{
        char buf[256];
        (void)state;

        log_open("verstak-unit");
        assert_int_equal(log_format_fields(buf, sizeof(buf), LOG_ERR, NULL, NULL, 0, "boom"), 3);
        assert_string_equal(buf, "MESSAGE=boom\nPRIORITY=3\nSYSLOG_IDENTIFIER=verstak-unit\n");
}

static void test_log_format_fields_invalid_name(void **state)
{
        char buf[256];
        struct log_field f[] = {{"lower", "x"}};
        (void)state;

        assert_int_equal(log_format_fields(buf, sizeof(buf), LOG_INFO, "id", f, 1, "m"), -EINVAL);
}

static void test_log_format_fields_small_buffer(void **state)
{
        char buf[16];
        (void)state;

        assert_int_equal(log_format_fields(buf, sizeof(buf), LOG_INFO, "id", NULL, 0,
                                           "a message longer than the buffer"),
                         -ENOBUFS);
        assert_int_equal(log_format_fields(buf, 0, LOG_INFO, "id", NULL, 0, "m"), -ENOBUFS);
}

static void test_log_format_fields_long_value_cut(void **state)
{
        static char value[5000], buf[8192];
        struct log_field f[] = {{"HTTP_PATH", value}};
        (void)state;

        memset(value, 'p', sizeof(value) - 1);
        assert_int_equal(log_format_fields(buf, sizeof(buf), LOG_INFO, "id", f, 1, "m"), 4);
        const char *line = strstr(buf, "HTTP_PATH=");
        assert_non_null(line);
        /* Cut at 1024 bytes of value, still one line. */
        assert_int_equal(strcspn(line, "\n"), strlen("HTTP_PATH=") + 1024);
}

static void test_log_level_from_string(void **state)
{
        (void)state;
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("WARNING"), LOG_WARNING);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("5"), LOG_NOTICE);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log_field_name_valid_accepts),
                cmocka_unit_test(test_log_field_name_valid_rejects),
                cmocka_unit_test(test_log_format_fields_request),
                cmocka_unit_test(test_log_format_fields_default_identifier),
                cmocka_unit_test(test_log_format_fields_invalid_name),
                cmocka_unit_test(test_log_format_fields_small_buffer),
                cmocka_unit_test(test_log_format_fields_long_value_cut),
                cmocka_unit_test(test_log_level_from_string),
        };
        return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
