/* SPDX-License-Identifier: MIT */
/* Unit tests of the API's error table (api/errors.h): every error has a
 * code of its own and an error status, and the codes a status shares
 * with the HTTP layer's defaults agree with them (api.md §1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/errors.h"

static void test_api_error_codes_unique(void **state)
{
        (void)state;
        for (int a = 0; a < API_ERR_COUNT; a++) {
                const char *code = api_error_code((enum api_error)a);
                assert_non_null(code);
                assert_true(code[0] != '\0');
                /* Machine codes are snake_case words. */
                for (const char *p = code; *p; p++)
                        assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
                for (int b = a + 1; b < API_ERR_COUNT; b++)
                        assert_string_not_equal(code, api_error_code((enum api_error)b));
        }
}

static void test_api_error_status_sane(void **state)
{
        (void)state;
        for (int e = 0; e < API_ERR_COUNT; e++) {
                unsigned status = api_error_status((enum api_error)e);
                assert_in_range(status, 400, 599);
        }
        /* The enum is grouped by status, in ascending order. */
        for (int e = 1; e < API_ERR_COUNT; e++)
                assert_true(api_error_status((enum api_error)(e - 1)) <=
                            api_error_status((enum api_error)e));
}

static void test_api_error_defaults_agree(void **state)
{
        (void)state;
        /* Where an error's code is the default of some status, it is the
         * default of its own status: one code never means two statuses. */
        for (int e = 0; e < API_ERR_COUNT; e++) {
                const char *code = api_error_code((enum api_error)e);
                for (unsigned s = 400; s < 600; s++)
                        if (strcmp(http_default_code(s), code) == 0 &&
                            strcmp(code, "invalid_request") != 0 &&
                            strcmp(code, "internal_error") != 0)
                                assert_int_equal(s, api_error_status((enum api_error)e));
        }
        assert_string_equal(api_error_code(API_ERR_INVALID_REQUEST), http_default_code(400));
        assert_string_equal(api_error_code(API_ERR_UNAUTHORIZED), http_default_code(401));
        assert_string_equal(api_error_code(API_ERR_FORBIDDEN), http_default_code(403));
        assert_string_equal(api_error_code(API_ERR_NOT_FOUND), http_default_code(404));
        assert_string_equal(api_error_code(API_ERR_CONFLICT), http_default_code(409));
        assert_string_equal(api_error_code(API_ERR_REQUEST_TOO_LARGE), http_default_code(413));
        assert_string_equal(api_error_code(API_ERR_RATE_LIMITED), http_default_code(429));
        assert_string_equal(api_error_code(API_ERR_INTERNAL), http_default_code(500));
        assert_string_equal(api_error_code(API_ERR_UNAVAILABLE), http_default_code(503));
}

static void test_api_error_outside_table(void **state)
{
        (void)state;
        assert_string_equal(api_error_code(API_ERR_COUNT), "internal_error");
        assert_int_equal(api_error_status(API_ERR_COUNT), 500);
        assert_string_equal(api_error_code((enum api_error) - 1), "internal_error");
        assert_int_equal(api_error_status((enum api_error) - 1), 500);
}

static void test_api_error_contract_codes(void **state)
{
        (void)state;
        /* A few codes the desktop clients localise by (api.md §1, §4, §5). */
        assert_string_equal(api_error_code(API_ERR_INVALID_JSON), "invalid_json");
        assert_int_equal(api_error_status(API_ERR_INVALID_JSON), 400);
        assert_string_equal(api_error_code(API_ERR_TRAILING_JSON), "trailing_json");
        assert_string_equal(api_error_code(API_ERR_FIELD_TOO_LONG), "field_too_long");
        assert_string_equal(api_error_code(API_ERR_TOO_MANY_OPERATIONS), "too_many_operations");
        assert_int_equal(api_error_status(API_ERR_TOO_MANY_OPERATIONS), 413);
        assert_string_equal(api_error_code(API_ERR_BLOB_NOT_FOUND), "blob_not_found");
        assert_int_equal(api_error_status(API_ERR_BLOB_NOT_FOUND), 404);
        assert_string_equal(api_error_code(API_ERR_RANGE_NOT_SATISFIABLE), "range_not_satisfiable");
        assert_int_equal(api_error_status(API_ERR_RANGE_NOT_SATISFIABLE), 416);
        assert_string_equal(api_error_code(API_ERR_MAIL_FAILED), "mail_failed");
        assert_int_equal(api_error_status(API_ERR_MAIL_FAILED), 502);
        assert_int_equal(api_error_status(API_ERR_INSUFFICIENT_STORAGE), 507);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_api_error_codes_unique),
                cmocka_unit_test(test_api_error_status_sane),
                cmocka_unit_test(test_api_error_defaults_agree),
                cmocka_unit_test(test_api_error_outside_table),
                cmocka_unit_test(test_api_error_contract_codes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
