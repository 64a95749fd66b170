/* SPDX-License-Identifier: MIT */
/* Unit tests of the pure parts of the HTTP layer: router, JSON body spec,
 * form decoding, and address matching for trusted proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/body.h"
#include "http/router.h"
#include "http/static.h"
#include "util/json_writer.h"
#include "util/netaddr.h"
#include "util/text.h"

static int dummy(struct http_request *req)
{
        (void)req;
        return 0;
}

static const struct route routes[] = {
        {"GET", "/api/v1/health", HTTP_BODY_NONE, dummy, NULL, NULL, NULL},
        {"GET", "/api/v1/blobs/{}", HTTP_BODY_NONE, dummy, NULL, NULL, NULL},
        {"POST", "/api/v1/blobs/", HTTP_BODY_STREAM, dummy, NULL, NULL, NULL},
        {"POST", "/api/v1/user/devices/{}/revoke", HTTP_BODY_BUFFERED, dummy, NULL, NULL, NULL},
        {"DELETE", "/api/v1/user/devices/{}/revoke", HTTP_BODY_NONE, dummy, NULL, NULL, NULL},
};

static void test_router_match(void **state)
{
        const struct route *r = NULL;
        char params[HTTP_MAX_PARAMS][256], allow[128];
        size_t n = 0;
        (void)state;

        assert_int_equal(router_match(routes, 5, "GET", "/api/v1/health", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_FOUND);
        assert_ptr_equal(r, &routes[0]);
        assert_int_equal(n, 0);
        assert_int_equal(router_match(routes, 5, "HEAD", "/api/v1/blobs/abc", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_FOUND);
        assert_ptr_equal(r, &routes[1]);
        assert_int_equal(n, 1);
        assert_string_equal(params[0], "abc");
        assert_int_equal(router_match(routes, 5, "POST", "/api/v1/user/devices/dev_1/revoke", &r,
                                      params, &n, allow, sizeof(allow)),
                         ROUTE_FOUND);
        assert_string_equal(params[0], "dev_1");
        /* Wrong method: known path, Allow lists the methods. */
        assert_int_equal(router_match(routes, 5, "PUT", "/api/v1/user/devices/x/revoke", &r, params,
                                      &n, allow, sizeof(allow)),
                         ROUTE_WRONG_METHOD);
        assert_string_equal(allow, "POST, DELETE");
        assert_int_equal(router_match(routes, 5, "POST", "/api/v1/health", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_WRONG_METHOD);
        assert_string_equal(allow, "GET, HEAD");
        /* Unknown, empty or odd parameters do not match. */
        assert_int_equal(router_match(routes, 5, "GET", "/api/v1/healthz", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_NOT_FOUND);
        assert_int_equal(router_match(routes, 5, "GET", "/api/v1/blobs/", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_WRONG_METHOD);
        assert_int_equal(router_match(routes, 5, "GET", "/api/v1/blobs/a%2fb", &r, params, &n,
                                      allow, sizeof(allow)),
                         ROUTE_NOT_FOUND);
        assert_int_equal(router_match(routes, 5, "GET", "/api/v1/blobs/a/b", &r, params, &n, allow,
                                      sizeof(allow)),
                         ROUTE_NOT_FOUND);
}

static void test_body_parse_text(void **state)
{
        const char *s = NULL;
        int64_t i = 0;
        bool b = false, present = false;
        json_t *arr = NULL, *root = NULL;
        const struct body_field f[] = {
                {"s", BODY_STRING, &s, &present},
                {"i", BODY_INT, &i, NULL},
                {"b", BODY_BOOL, &b, NULL},
                {"a", BODY_ARRAY, &arr, NULL},
        };
        char err[160];
        (void)state;

        const char *ok = "{\"s\":\"x\",\"i\":-4,\"b\":true,\"a\":[1],\"unknown\":{}}  \n";
        assert_int_equal(body_parse_text(ok, strlen(ok), f, 4, NULL, &root, err, sizeof(err)), 0);
        assert_string_equal(s, "x");
        assert_true(present);
        assert_int_equal(i, -4);
        assert_true(b);
        assert_int_equal(json_array_size(arr), 1);
        json_decref(root);

        /* null and missing are "not given" */
        s = NULL;
        assert_int_equal(body_parse_text("{\"s\":null}", 10, f, 4, NULL, &root, err, sizeof(err)),
                         0);
        assert_null(s);
        assert_false(present);
        json_decref(root);

        static const char *const invalid[] = {"",
                                              "{",
                                              "[]",
                                              "\"s\"",
                                              "{\"s\":1}",
                                              "{\"i\":\"1\"}",
                                              "{\"i\":1.5}",
                                              "{\"b\":0}",
                                              "{\"a\":{}}",
                                              "{\"s\":\"a\",\"s\":\"b\"}",
                                              "{\"s\":\"\\u0000\"}"};
        for (size_t k = 0; k < sizeof(invalid) / sizeof(invalid[0]); k++)
                assert_int_equal(body_parse_text(invalid[k], strlen(invalid[k]), f, 4, NULL, &root,
                                                 err, sizeof(err)),
                                 -EBADMSG);
        static const char *const trailing[] = {"{} {}", "{}x", "{\"s\":\"a\"}[1]"};
        for (size_t k = 0; k < 3; k++)
                assert_int_equal(body_parse_text(trailing[k], strlen(trailing[k]), f, 4, NULL,
                                                 &root, err, sizeof(err)),
                                 -ENOTEMPTY);
}

static void test_form_decode(void **state)
{
        (void)state;
        const char *t = "token=ab%2Bc&csrf_token=x+y&empty=&flag";
        json_t *o = body_form_to_json(t, strlen(t));
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "token")), "ab+c");
        assert_string_equal(json_string_value(json_object_get(o, "csrf_token")), "x y");
        assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
        assert_string_equal(json_string_value(json_object_get(o, "flag")), "");
        json_decref(o);
        assert_null(body_form_to_json("a=%4", 4));
        assert_null(body_form_to_json("a=%zz", 5));
        assert_null(body_form_to_json("a=%00", 5));
        /* A bad name with a good value: nothing leaks (the sanitizer pass
         * checks; found by tests/fuzz/fuzz_body). */
        assert_null(body_form_to_json("%zz=x", 5));
}

static void test_netmask(void **state)
{
        struct netmask m;
        struct sockaddr_storage ss;
        (void)state;

        assert_int_equal(netmask_parse("10.0.0.0/8", &m), 0);
        assert_int_equal(ip_parse("10.200.1.1", &ss), 0);
        assert_true(netmask_contains(&m, (struct sockaddr *)&ss));
        assert_int_equal(ip_parse("11.0.0.1", &ss), 0);
        assert_false(netmask_contains(&m, (struct sockaddr *)&ss));
        assert_int_equal(ip_parse("::ffff:10.1.2.3", &ss), 0); /* v4-mapped */
        assert_true(netmask_contains(&m, (struct sockaddr *)&ss));
        assert_int_equal(netmask_parse("2001:db8::/32", &m), 0);
        assert_int_equal(ip_parse("2001:db8:1::5", &ss), 0);
        assert_true(netmask_contains(&m, (struct sockaddr *)&ss));
        assert_int_equal(netmask_parse("127.0.0.1", &m), 0);
        assert_int_equal(m.prefix, 32);
        assert_int_equal(netmask_parse("10.0.0.1/8", &m), -EINVAL);
        assert_int_equal(netmask_parse("10.0.0.0/33", &m), -EINVAL);
        assert_int_equal(netmask_parse("host.example", &m), -EINVAL);

        socklen_t len;
        assert_int_equal(listen_address_parse("127.0.0.1:47732", &ss, &len), 0);
        assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 47732);
        assert_int_equal(listen_address_parse("[::1]:0", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_INET6);
        assert_int_equal(listen_address_parse("unix:/run/x.sock", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_UNIX);
        assert_int_equal(listen_address_parse("localhost:80", &ss, &len), -EINVAL);
        assert_int_equal(listen_address_parse("1.2.3.4:", &ss, &len), -EINVAL);
}

static void test_text_helpers(void **state)
{
        char t[TIME_RFC3339_SIZE], buf[32];
        time_t back;
        uint64_t v;
        (void)state;

        time_format_rfc3339(1795651009, t);
        assert_string_equal(t, "2026-11-25T23:56:49Z");
        assert_int_equal(time_parse_rfc3339(t, &back), 0);
        assert_int_equal(back, 1795651009);
        assert_int_equal(time_parse_rfc3339("2026-11-25 23:56:49", &back), 0);
        assert_int_equal(time_parse_rfc3339("yesterday", &back), -EINVAL);
        assert_int_equal(parse_u64("18446744073709551615", &v), 0);
        assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_u64("-1", &v), -EINVAL);
        assert_true(hex_is_lower("00ff", 4));
        assert_false(hex_is_lower("00FF", 4));
        assert_false(hex_is_lower("00ff0", 4));
        uint8_t bytes[3];
        assert_int_equal(hex_decode("00fFa5", 3, bytes), 0);
        assert_memory_equal(bytes, "\x00\xff\xa5", 3);
        assert_int_equal(hex_decode("0g", 1, bytes), -EINVAL);
        assert_int_equal(hex_decode("a", 1, bytes), -EINVAL); /* ends inside a byte */
        assert_int_equal(hex_digit('F'), 15);
        assert_int_equal(hex_digit('%'), -1);
        strcpy(buf, "  MiXed \t");
        assert_string_equal(str_ascii_lower(str_trim(buf)), "mixed");
        assert_true(str_has_crlf("a\r\nb"));
}

static void test_json_writer(void **state)
{
        struct json_writer w;
        size_t len;
        (void)state;

        json_writer_init(&w, 4); /* grows */
        json_writer_begin_object(&w);
        json_writer_key(&w, "s");
        json_writer_string(&w, "q\"b\\n\n\x01 Привет");
        json_writer_key(&w, "n");
        json_writer_int(&w, -42);
        json_writer_key(&w, "b");
        json_writer_bool(&w, false);
        json_writer_key(&w, "a");
        json_writer_begin_array(&w);
        json_writer_int(&w, 1);
        json_writer_begin_object(&w);
        json_writer_end_object(&w);
        json_writer_raw(&w, "[2]", 3);
        json_writer_end_array(&w);
        json_writer_end_object(&w);
        char *text = json_writer_finish(&w, &len);
        assert_string_equal(text, "{\"s\":\"q\\\"b\\\\n\\n\\u0001 Привет\",\"n\":-42,"
                                  "\"b\":false,\"a\":[1,{},[2]]}");
        assert_int_equal(len, strlen(text));
        /* What it writes, jansson reads back to the same strings. */
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "s")), "q\"b\\n\n\x01 Привет");
        json_decref(j);
        free(text);
}

static void test_accepts_gzip(void **state)
{
        (void)state;
        assert_false(http_accepts_gzip(NULL));
        assert_false(http_accepts_gzip(""));
        assert_true(http_accepts_gzip("gzip"));
        assert_true(http_accepts_gzip("gzip, deflate, br"));
        assert_true(http_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert_true(http_accepts_gzip("x-gzip"));
        assert_true(http_accepts_gzip("*"));
        assert_true(http_accepts_gzip("gzip;q=0.001"));
        assert_false(http_accepts_gzip("identity"));
        assert_false(http_accepts_gzip("deflate, br"));
        assert_false(http_accepts_gzip("gzip;q=0"));
        assert_false(http_accepts_gzip("gzip; q=0.000, br"));
        assert_false(http_accepts_gzip("*;q=0"));
        assert_false(http_accepts_gzip("gzipx, xgzip, gzi"));
}

static void test_etag_matches(void **state)
{
        static const char tag[] = "\"0123abcd\"";
        (void)state;
        assert_false(http_etag_matches(NULL, tag));
        assert_false(http_etag_matches("", tag));
        assert_true(http_etag_matches("\"0123abcd\"", tag));
        assert_true(http_etag_matches("W/\"0123abcd\"", tag));
        assert_true(http_etag_matches("\"zz\", \"0123abcd\" ", tag));
        assert_true(http_etag_matches("*", tag));
        assert_false(http_etag_matches("\"0123abc\"", tag));
        assert_false(http_etag_matches("\"0123abcd-gz\"", tag));
        assert_false(http_etag_matches("0123abcd", tag));
}

/* The generated table: every asset has a type and a tag, URLs are unique,
 * and the pages the handlers name are there. */
static void test_asset_table(void **state)
{
        (void)state;
        assert_true(http_n_assets > 10);
        for (size_t i = 0; i < http_n_assets; i++) {
                const struct http_asset *a = &http_assets[i];
                assert_non_null(a->content_type);
                assert_int_equal(strlen(a->etag), 34);
                assert_true(a->size > 0);
                assert_true(!a->gzip || a->gzip_size < a->size);
                assert_ptr_equal(http_asset_by_name(a->name), a);
                if (a->url)
                        assert_ptr_equal(http_asset_by_url(a->url), a);
        }
        assert_non_null(http_asset_by_name("index.html"));
        assert_non_null(http_asset_by_name("404.html"));
        assert_non_null(http_asset_by_name("unavailable.html"));
        assert_null(http_asset_by_name("index.html")->url);
        assert_string_equal(http_asset_by_url("/login")->name, "login.html");
        assert_null(http_asset_by_url("/login.html"));
        assert_null(http_asset_by_url("/"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_router_match), cmocka_unit_test(test_body_parse_text),
                cmocka_unit_test(test_form_decode),  cmocka_unit_test(test_netmask),
                cmocka_unit_test(test_text_helpers), cmocka_unit_test(test_json_writer),
                cmocka_unit_test(test_accepts_gzip), cmocka_unit_test(test_etag_matches),
                cmocka_unit_test(test_asset_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
