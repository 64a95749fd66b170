/* SPDX-License-Identifier: MIT */
/* Unit tests of the field-spec validator (http/body.h body_extract() and
 * body_parse_text()): wrong types, missing, null, empty and blank
 * required fields, over-long strings, unknown fields ignored, and the
 * order of the checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http/body.h"

struct login {
        const char *username, *password, *note;
        int64_t n;
};

#define LOGIN_FIELDS(l)                                                                            \
        {"username", BODY_STRING, &(l)->username, .flags = BODY_NOT_BLANK, .max_len = 8},          \
                {"password", BODY_STRING, &(l)->password, .flags = BODY_REQUIRED, .max_len = 4},   \
                {"note", BODY_STRING, &(l)->note, .max_len = 3},                                   \
        {                                                                                          \
                "n", BODY_INT, &(l)->n, NULL                                                       \
        }

/* Parse text against the login spec: the errno, with err filled. */
static int parse(const char *text, struct login *l, char *err, size_t err_size)
{
        const struct body_field f[] = {LOGIN_FIELDS(l)};
        json_t *root = NULL;
        int r;

        *l = (struct login){0};
        err[0] = '\0';
        r = body_parse_text(text, strlen(text), f, sizeof(f) / sizeof(f[0]), NULL, &root, err,
                            err_size);
        json_decref(root);
        return r;
}

static void test_fields_accepts_valid(void **state)
{
        struct login l;
        char err[160];
        (void)state;

        /* Exactly at the limits, with unknown members ignored. */
        assert_int_equal(parse("{\"username\":\"abcdefgh\",\"password\":\"1234\",\"note\":\"xyz\","
                               "\"n\":7,\"extra\":[1,{\"a\":null}],\"more\":\"x\"}",
                               &l, err, sizeof(err)),
                         0);
        assert_int_equal(l.n, 7);
        /* Optional fields may be missing or null; max_len counts bytes. */
        assert_int_equal(parse("{\"username\":\" a \",\"password\":\" \",\"note\":null}", &l, err,
                               sizeof(err)),
                         0);
        assert_null(l.note);
        assert_int_equal(parse("{\"username\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\","
                               "\"password\":\"p\"}",
                               &l, err, sizeof(err)),
                         0);
}

static void test_fields_wrong_type(void **state)
{
        static const char *const bad[] = {
                "{\"username\":1,\"password\":\"p\"}",
                "{\"username\":\"u\",\"password\":true}",
                "{\"username\":\"u\",\"password\":\"p\",\"n\":\"1\"}",
                "{\"username\":\"u\",\"password\":\"p\",\"n\":1.5}",
                "{\"username\":\"u\",\"password\":\"p\",\"note\":[]}",
                /* A wrong type wins over a missing or over-long field. */
                "{\"password\":\"toolong\",\"n\":{}}",
        };
        struct login l;
        char err[160];
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(parse(bad[i], &l, err, sizeof(err)), -EBADMSG);
        assert_int_equal(parse(bad[5], &l, err, sizeof(err)), -EBADMSG);
        assert_string_equal(err, "n has the wrong type");
}

static void test_fields_missing(void **state)
{
        static const struct {
                const char *text, *err;
        } cases[] = {
                {"{}", "username is required"},
                {"{\"password\":\"p\"}", "username is required"},
                {"{\"username\":null,\"password\":\"p\"}", "username is required"},
                {"{\"username\":\"\",\"password\":\"p\"}", "username is required"},
                {"{\"username\":\" \\t\\n\",\"password\":\"p\"}", "username is required"},
                {"{\"username\":\"u\"}", "password is required"},
                {"{\"username\":\"u\",\"password\":\"\"}", "password is required"},
                {"{\"username\":\"u\",\"password\":null}", "password is required"},
                /* Missing wins over over-long, whatever the member order. */
                {"{\"username\":\"much too long\"}", "password is required"},
                {"{\"note\":\"long note\",\"username\":\"u\"}", "password is required"},
        };
        struct login l;
        char err[160];
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(parse(cases[i].text, &l, err, sizeof(err)), -ENODATA);
                assert_string_equal(err, cases[i].err);
        }
}

static void test_fields_too_long(void **state)
{
        static const struct {
                const char *text, *err;
        } cases[] = {
                {"{\"username\":\"abcdefghi\",\"password\":\"p\"}", "username is too long"},
                {"{\"username\":\"u\",\"password\":\"12345\"}", "password is too long"},
                {"{\"username\":\"u\",\"password\":\"p\",\"note\":\"abcd\"}", "note is too long"},
                /* Bytes, not characters: five two-byte letters are 10. */
                {"{\"username\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",\"password\":\"p\"}",
                 "username is too long"},
        };
        struct login l;
        char err[160];
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(parse(cases[i].text, &l, err, sizeof(err)), -EMSGSIZE);
                assert_string_equal(err, cases[i].err);
        }
}

static void test_fields_required_non_string(void **state)
{
        json_t *arr = NULL;
        const struct body_field f[] = {{"ops", BODY_ARRAY, &arr, .flags = BODY_REQUIRED}};
        json_t *obj;
        char err[160];
        (void)state;

        obj = json_loads("{\"ops\":[]}", 0, NULL);
        assert_int_equal(body_extract(obj, f, 1, err, sizeof(err)), 0);
        assert_int_equal(json_array_size(arr), 0);
        json_decref(obj);
        obj = json_loads("{\"ops\":null}", 0, NULL);
        assert_int_equal(body_extract(obj, f, 1, err, sizeof(err)), -ENODATA);
        assert_string_equal(err, "ops is required");
        json_decref(obj);
        obj = json_loads("{\"ops\":{}}", 0, NULL);
        assert_int_equal(body_extract(obj, f, 1, NULL, 0), -EBADMSG);
        json_decref(obj);
}

static void test_fields_form_values(void **state)
{
        struct login l = {0};
        const struct body_field f[] = {LOGIN_FIELDS(&l)};
        const char *form = "username=%20&password=p";
        json_t *obj = body_form_to_json(form, strlen(form));
        char err[160];
        (void)state;

        /* A form's values are strings: the same checks apply. */
        assert_non_null(obj);
        assert_int_equal(body_extract(obj, f, 3, err, sizeof(err)), -ENODATA);
        assert_string_equal(err, "username is required");
        json_decref(obj);
        form = "username=u&password=p&n=1";
        obj = body_form_to_json(form, strlen(form));
        assert_int_equal(body_extract(obj, f, 4, err, sizeof(err)), -EBADMSG);
        json_decref(obj);
}

/* Up to BODY_FIELDS_MAX fields are checked (each member looked up once);
 * a longer spec is refused whole, with no output written. */
static void test_fields_most(void **state)
{
        struct body_field f[BODY_FIELDS_MAX + 1];
        const char *out[BODY_FIELDS_MAX + 1] = {0};
        char names[BODY_FIELDS_MAX + 1][8], text[512], err[160], want[32];
        size_t len = 0;
        (void)state;

        len += (size_t)snprintf(text + len, sizeof(text) - len, "{");
        for (size_t i = 0; i <= BODY_FIELDS_MAX; i++) {
                snprintf(names[i], sizeof(names[i]), "f%zu", i);
                f[i] = (struct body_field){names[i], BODY_STRING, &out[i], .flags = BODY_REQUIRED,
                                           .max_len = 4};
                len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"f%zu\":\"v%zu\"",
                                        i ? "," : "", i, i);
        }
        snprintf(text + len, sizeof(text) - len, "}");
        json_t *obj = json_loads(text, 0, NULL);
        assert_non_null(obj);

        assert_int_equal(body_extract(obj, f, BODY_FIELDS_MAX + 1, err, sizeof(err)), -E2BIG);
        assert_null(out[0]);
        assert_int_equal(body_extract(obj, f, BODY_FIELDS_MAX, err, sizeof(err)), 0);
        assert_string_equal(out[0], "v0");
        snprintf(want, sizeof(want), "v%d", BODY_FIELDS_MAX - 1);
        assert_string_equal(out[BODY_FIELDS_MAX - 1], want);
        assert_null(out[BODY_FIELDS_MAX]);
        /* The last field's value, too long, is found by the third pass. */
        json_object_set_new(obj, names[BODY_FIELDS_MAX - 1], json_string("longer"));
        assert_int_equal(body_extract(obj, f, BODY_FIELDS_MAX, err, sizeof(err)), -EMSGSIZE);
        snprintf(want, sizeof(want), "%s is too long", names[BODY_FIELDS_MAX - 1]);
        assert_string_equal(err, want);
        json_decref(obj);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fields_accepts_valid),
                cmocka_unit_test(test_fields_wrong_type),
                cmocka_unit_test(test_fields_missing),
                cmocka_unit_test(test_fields_too_long),
                cmocka_unit_test(test_fields_required_non_string),
                cmocka_unit_test(test_fields_form_values),
                cmocka_unit_test(test_fields_most),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
