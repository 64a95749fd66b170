/* SPDX-License-Identifier: MIT */
/* Unit tests of auth/session.h: cookies, CSRF token matching, origins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth/session.h"
#include "auth/token.h"

static void test_format_cookie_session(void **state)
{
        char buf[256];
        (void)state;

        assert_int_equal(session_format_cookie(buf, sizeof(buf), &session_kind_user, false, "abc",
                                               86400, false),
                         0);
        assert_string_equal(buf, "user_session=abc; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax");
        assert_int_equal(session_format_cookie(buf, sizeof(buf), &session_kind_user, false, "abc",
                                               86400, true),
                         0);
        assert_string_equal(
                buf, "user_session=abc; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax; Secure");
}

static void test_format_cookie_csrf(void **state)
{
        char buf[256];
        (void)state;

        assert_int_equal(session_format_cookie(buf, sizeof(buf), &session_kind_user, true, "tok",
                                               86400, true),
                         0);
        assert_string_equal(buf, "csrf_token=tok; Path=/; Max-Age=86400; SameSite=Strict; Secure");
        /* The admin console's cookies live under /admin. */
        assert_int_equal(
                session_format_cookie(buf, sizeof(buf), &session_kind_admin, true, "", 0, false),
                0);
        assert_string_equal(buf, "csrf_token=; Path=/admin; Max-Age=0; SameSite=Strict");
        assert_int_equal(
                session_format_cookie(buf, sizeof(buf), &session_kind_admin, false, "x", 1, false),
                0);
        assert_true(strncmp(buf, "admin_session=x; Path=/admin;", 29) == 0);
}

static void test_format_cookie_too_small(void **state)
{
        char buf[16];
        (void)state;

        assert_int_equal(session_format_cookie(buf, sizeof(buf), &session_kind_user, false, "abc",
                                               86400, false),
                         -ENOBUFS);
}

static void test_kinds(void **state)
{
        (void)state;
        assert_string_equal(session_kind_user.scope, "user");
        assert_true(session_kind_user.allow_bearer);
        assert_string_equal(session_kind_admin.scope, "admin");
        assert_false(session_kind_admin.allow_bearer);
}

static void test_csrf_matches(void **state)
{
        char token[TOKEN_SECRET_HEX + 1], other[TOKEN_SECRET_HEX + 1];
        char hash[TOKEN_SHA256_HEX + 1];
        (void)state;

        token_random_hex(token, TOKEN_SECRET_HEX);
        token_random_hex(other, TOKEN_SECRET_HEX);
        token_sha256_hex(token, strlen(token), hash);

        const char *one[] = {token};
        const char *two[] = {other, token};
        const char *wrong[] = {other};
        assert_true(session_csrf_matches(token, one, 1, hash));
        assert_true(session_csrf_matches(token, two, 2, hash)); /* one per path */
        assert_false(session_csrf_matches(token, wrong, 1, hash));
        assert_false(session_csrf_matches(token, NULL, 0, hash)); /* no cookie */
        assert_false(session_csrf_matches(NULL, one, 1, hash));
        assert_false(session_csrf_matches("", one, 1, hash));
        /* Equal to the cookie but not the session's token. */
        const char *forged[] = {other};
        assert_false(session_csrf_matches(other, forged, 1, hash));
        assert_false(session_csrf_matches(token, one, 1, NULL));
        /* A prefix is not enough. */
        char prefix[TOKEN_SECRET_HEX];
        memcpy(prefix, token, sizeof(prefix) - 1);
        prefix[sizeof(prefix) - 1] = '\0';
        const char *pc[] = {prefix};
        assert_false(session_csrf_matches(prefix, pc, 1, hash));
}

static void test_url_origin(void **state)
{
        char out[128];
        (void)state;

        assert_int_equal(
                session_url_origin("https://Sync.Example.org/base/path?x#y", out, sizeof(out)), 0);
        assert_string_equal(out, "https://sync.example.org");
        assert_int_equal(session_url_origin("https://example.org:443", out, sizeof(out)), 0);
        assert_string_equal(out, "https://example.org");
        assert_int_equal(session_url_origin("http://example.org:80/", out, sizeof(out)), 0);
        assert_string_equal(out, "http://example.org");
        assert_int_equal(session_url_origin("http://127.0.0.1:47732", out, sizeof(out)), 0);
        assert_string_equal(out, "http://127.0.0.1:47732");
        assert_int_equal(session_url_origin("https://example.org:80", out, sizeof(out)), 0);
        assert_string_equal(out, "https://example.org:80");
        assert_int_equal(session_url_origin("http://[::1]:8080/x", out, sizeof(out)), 0);
        assert_string_equal(out, "http://[::1]:8080");

        assert_int_equal(session_url_origin("null", out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin("ftp://example.org", out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin("https://", out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin("https://user@example.org", out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin("https://exa mple.org", out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin(NULL, out, sizeof(out)), -EINVAL);
        assert_int_equal(session_url_origin("https://example.org", out, 8), -ENOBUFS);
}

static void test_origin_allowed(void **state)
{
        const char *pub = "https://sync.example.org/prefix";
        const char *own = "http://127.0.0.1:47732";
        (void)state;

        assert_true(session_origin_allowed("https://sync.example.org", pub, own));
        assert_true(session_origin_allowed("https://SYNC.example.org:443", pub, own));
        assert_true(session_origin_allowed("http://127.0.0.1:47732", pub, own));
        assert_true(session_origin_allowed("http://127.0.0.1:47732", NULL, own));
        assert_true(session_origin_allowed("https://sync.example.org", pub, NULL));

        assert_false(session_origin_allowed("http://sync.example.org", pub, own));
        assert_false(session_origin_allowed("https://sync.example.org.evil.test", pub, own));
        assert_false(session_origin_allowed("https://evil.test", pub, own));
        assert_false(session_origin_allowed("http://127.0.0.1:47733", pub, own));
        assert_false(session_origin_allowed("null", pub, own));
        assert_false(session_origin_allowed("", pub, own));
        assert_false(session_origin_allowed(NULL, pub, own));
        /* An Origin never has a path. */
        assert_false(session_origin_allowed("https://sync.example.org/prefix", pub, own));
        assert_false(session_origin_allowed("https://evil.test", NULL, NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_cookie_session),
                cmocka_unit_test(test_format_cookie_csrf),
                cmocka_unit_test(test_format_cookie_too_small),
                cmocka_unit_test(test_kinds),
                cmocka_unit_test(test_csrf_matches),
                cmocka_unit_test(test_url_origin),
                cmocka_unit_test(test_origin_allowed),
        };
        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
