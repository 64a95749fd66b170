/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of http/multipart.c: well-formed bodies fed whole, byte by
 * byte and in random pieces give the same parts; every malformed or
 * over-long shape is refused; the Content-Type check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

struct seen {
        unsigned parts;
        char name[4][300];
        char filename[4][300];
        bool has_name[4], has_filename[4];
        char *data[4];
        size_t len[4];
        unsigned ends;
        unsigned pieces; /* part_data calls */
        int fail_begin;  /* returned by part_begin when non-zero */
};

static int on_begin(void *ud, unsigned index, const char *name, const char *filename)
{
        struct seen *s = ud;

        assert_int_equal(index, s->parts);
        assert_true(index < 4);
        s->has_name[index] = name != NULL;
        s->has_filename[index] = filename != NULL;
        snprintf(s->name[index], sizeof(s->name[index]), "%s", name ? name : "");
        snprintf(s->filename[index], sizeof(s->filename[index]), "%s", filename ? filename : "");
        s->parts++;
        return s->fail_begin;
}

static int on_data(void *ud, const char *data, size_t len)
{
        struct seen *s = ud;
        unsigned i = s->parts - 1;

        assert_true(len > 0);
        s->pieces++;
        s->data[i] = realloc(s->data[i], s->len[i] + len + 1);
        memcpy(s->data[i] + s->len[i], data, len);
        s->len[i] += len;
        s->data[i][s->len[i]] = '\0';
        return 0;
}

static int on_end(void *ud)
{
        struct seen *s = ud;
        s->ends++;
        return 0;
}

static const struct multipart_callbacks cbs = {on_begin, on_data, on_end};

static void seen_free(struct seen *s)
{
        for (int i = 0; i < 4; i++)
                free(s->data[i]);
        memset(s, 0, sizeof(*s));
}

/* Feed body in pieces of step bytes (0: random 1..97) and finish. */
static int parse(const char *ct, const char *body, size_t len, size_t step, struct seen *s)
{
        struct multipart_parser *p;
        int r = multipart_parser_new(ct, &cbs, s, &p);

        if (r < 0)
                return r;
        for (size_t off = 0; off < len && r == 0;) {
                size_t n = step ? step : (size_t)(rand() % 97) + 1;
                if (n > len - off)
                        n = len - off;
                r = multipart_parser_feed(p, body + off, n);
                off += n;
        }
        if (r == 0)
                r = multipart_parser_finish(p);
        multipart_parser_free(p);
        return r;
}

static const char simple[] = "--XyZ\r\n"
                             "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
                             "Content-Type: application/octet-stream\r\n"
                             "\r\n"
                             "hello\r\n--Xy\r\n--XyQ world\r\r\n\r\n-"
                             "\r\n--XyZ--\r\n";

static void test_parse_simple_any_split(void **state)
{
        (void)state;
        srand(7);
        for (size_t step = 0; step <= 40; step++) {
                for (int rep = 0; rep < (step == 0 ? 50 : 1); rep++) {
                        struct seen s = {0};
                        assert_int_equal(parse(CT, simple, sizeof(simple) - 1, step, &s), 0);
                        assert_int_equal(s.parts, 1);
                        assert_int_equal(s.ends, 1);
                        assert_string_equal(s.name[0], "file");
                        assert_string_equal(s.filename[0], "a.bin");
                        assert_int_equal(s.len[0],
                                         strlen("hello\r\n--Xy\r\n--XyQ world\r\r\n\r\n-"));
                        assert_memory_equal(s.data[0], "hello\r\n--Xy\r\n--XyQ world\r\r\n\r\n-",
                                            s.len[0]);
                        seen_free(&s);
                }
        }
}

static void test_parse_binary_random(void **state)
{
        /* Random binary content full of CR, LF and dashes, with a boundary
         * whose prefix repeats (the KMP fallback matters). */
        const char *ct = "multipart/form-data; boundary=\"aab-aab\"";
        size_t content_len = 20000;
        char *content = malloc(content_len);
        char *body = malloc(content_len + 512);
        assert_non_null(content);
        assert_non_null(body);
        const char alphabet[] = "\r\n-ab";
        (void)state;

        srand(11);
        for (size_t i = 0; i < content_len; i++)
                content[i] = rand() % 3 ? alphabet[rand() % 5] : (char)rand();
        /* The delimiter itself must not occur in content. */
        for (size_t i = 0; i + 11 <= content_len; i++)
                if (memcmp(content + i, "\r\n--aab-aab", 11) == 0)
                        content[i] = 'x';
        int n = sprintf(body, "preamble text\r\n--aab-aab \t\r\nContent-Disposition: form-data; "
                              "filename=x; name=file\r\n\r\n");
        memcpy(body + n, content, content_len);
        size_t len = (size_t)n + content_len;
        len += (size_t)sprintf(body + len, "\r\n--aab-aab--");

        for (size_t step = 0; step < 6; step++) {
                struct seen s = {0};
                assert_int_equal(parse(ct, body, len, step == 5 ? len : step, &s), 0);
                assert_int_equal(s.parts, 1);
                assert_int_equal(s.len[0], content_len);
                assert_memory_equal(s.data[0], content, content_len);
                seen_free(&s);
        }
        free(content);
        free(body);
}

/* Content full of CRs and near-delimiters is handed on in one piece per
 * chunk fed (two where a chunk ends too close to a CR to tell), not one
 * per CR: an upload's buffer sees few, large writes. */
static void test_content_in_few_pieces(void **state)
{
        static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                                   "filename=\"f\"\r\n\r\n";
        static const char tail[] = "\r\n--XyZ--\r\n";
        const size_t content_len = 16000, hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
        char *body = malloc(hl + content_len + tl);
        (void)state;

        assert_non_null(body);
        memcpy(body, head, hl);
        for (size_t i = 0; i < content_len; i++)
                body[hl + i] = i % 50 == 0 ? '\r' : i % 100 == 1 ? '\n' : "-XyQ"[i % 4];
        memcpy(body + hl + content_len, tail, tl);

        struct seen s = {0};
        assert_int_equal(parse(CT, body, hl + content_len + tl, hl + content_len + tl, &s), 0);
        assert_int_equal(s.len[0], content_len);
        assert_memory_equal(s.data[0], body + hl, content_len);
        assert_int_equal(s.pieces, 1);
        seen_free(&s);

        assert_int_equal(parse(CT, body, hl + content_len + tl, 1000, &s), 0);
        assert_int_equal(s.len[0], content_len);
        assert_memory_equal(s.data[0], body + hl, content_len);
        assert_true(s.pieces <= 2 * ((hl + content_len + tl) / 1000 + 1));
        seen_free(&s);
        free(body);
}

static void test_parse_parts_and_names(void **state)
{
        static const char body[] = "--XyZ\r\n"
                                   "content-disposition: FORM-DATA; name=note\r\n\r\n"
                                   "text\r\n"
                                   "--XyZ\r\n"
                                   "Content-Disposition: form-data; name=\"f\\\"q\"; "
                                   "filename*=UTF-8''%e2%82%ac.txt\r\n\r\n"
                                   "\r\n"
                                   "--XyZ\r\n"
                                   "Content-Disposition: attachment; name=\"file\"\r\n\r\n"
                                   "\r\n"
                                   "--XyZ\r\n"
                                   "\r\n"
                                   "no headers\r\n"
                                   "--XyZ--";
        struct seen s = {0};
        (void)state;

        assert_int_equal(parse(CT, body, sizeof(body) - 1, 3, &s), 0);
        assert_int_equal(s.parts, 4);
        assert_int_equal(s.ends, 4);
        assert_string_equal(s.name[0], "note");
        assert_false(s.has_filename[0]);
        assert_string_equal(s.data[0], "text");
        assert_string_equal(s.name[1], "f\"q");
        assert_true(s.has_filename[1]);
        assert_int_equal(s.len[1], 0);
        assert_false(s.has_name[2]); /* not form-data */
        assert_false(s.has_name[3]);
        assert_string_equal(s.data[3], "no headers");
        seen_free(&s);
}

static void test_parse_empty_part_and_no_part(void **state)
{
        static const char empty[] = "--XyZ\r\nContent-Disposition: form-data; name=file; "
                                    "filename=\"e\"\r\n\r\n\r\n--XyZ--\r\n";
        static const char none[] = "--XyZ--\r\n";
        static const char empty_filename[] = "--XyZ\r\nContent-Disposition: form-data; "
                                             "name=file; filename=\"\"\r\n\r\nx\r\n--XyZ--";
        struct seen s = {0};
        (void)state;

        assert_int_equal(parse(CT, empty, sizeof(empty) - 1, 1, &s), 0);
        assert_int_equal(s.parts, 1);
        assert_int_equal(s.len[0], 0);
        seen_free(&s);
        assert_int_equal(parse(CT, none, sizeof(none) - 1, 2, &s), 0);
        assert_int_equal(s.parts, 0);
        seen_free(&s);
        assert_int_equal(parse(CT, empty_filename, sizeof(empty_filename) - 1, 0, &s), 0);
        assert_false(s.has_filename[0]);
        seen_free(&s);
}

static void test_parse_malformed(void **state)
{
        static const char *const bad[] = {
                "",                                                              /* nothing */
                "just text",                                                     /* no boundary */
                "--XyZ\r\nContent-Disposition: form-data; name=file\r\n\r\nabc", /* cut */
                "--XyZ\r\nContent-Disposition: form-data; name=file\r\n\r\nabc\r\n--XyZ", /* no
                                                                                             close
                                                                                           */
                "--XyZ\r\nContent-Disposition: form-data; name=file\r\n", /* headers cut */
                "--XyZjunk\r\n\r\n\r\n--XyZ--",                           /* junk after boundary */
                "--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--",             /* bad header */
                "--XyZ\r\nContent-Disposition: form-data; name\r\n\r\nx\r\n--XyZ--", /* bad param */
                "--XyZ\r\nContent-Disposition: form-data; name=\"unterminated\r\n\r\nx\r\n--XyZ--",
                "--XyZ\r\nContent-Disposition: form-data\r\nContent-Disposition: form-data\r\n\r\n"
                "\r\n--XyZ--", /* two dispositions */
                "--XyZ-x",     /* half a close */
                "--XyZ\n\n",   /* bare LF */
        };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct seen s = {0};
                int r = parse(CT, bad[i], strlen(bad[i]), 0, &s);
                if (r != -EBADMSG)
                        fail_msg("case %zu: expected -EBADMSG, got %d", i, r);
                seen_free(&s);
        }
}

static void test_parse_bounds(void **state)
{
        size_t n = MULTIPART_HEADERS_MAX + 100;
        static char body[MULTIPART_HEADERS_MAX + 200];
        struct seen s = {0};
        (void)state;

        /* Headers beyond the bound. */
        int k = sprintf(body, "--XyZ\r\nX-Long: ");
        memset(body + k, 'a', n);
        strcpy(body + k + n, "\r\n\r\nx\r\n--XyZ--");
        assert_int_equal(parse(CT, body, strlen(body), 0, &s), -EBADMSG);
        seen_free(&s);

        /* Preamble beyond the bound. */
        memset(body, 'p', MULTIPART_PREAMBLE_MAX + 10);
        strcpy(body + MULTIPART_PREAMBLE_MAX + 10, "\r\n--XyZ--");
        assert_int_equal(parse(CT, body, strlen(body), 0, &s), -EBADMSG);
        seen_free(&s);

        /* Epilogue beyond the bound. */
        k = sprintf(body, "--XyZ--\r\n");
        memset(body + k, 'e', MULTIPART_EPILOGUE_MAX + 10);
        body[k + MULTIPART_EPILOGUE_MAX + 10] = '\0';
        assert_int_equal(parse(CT, body, strlen(body), 0, &s), -EBADMSG);
        seen_free(&s);
}

static void test_callback_error_sticks(void **state)
{
        struct seen s = {.fail_begin = -EPROTO};
        struct multipart_parser *p;
        (void)state;

        assert_int_equal(multipart_parser_new(CT, &cbs, &s, &p), 0);
        assert_int_equal(multipart_parser_feed(p, simple, sizeof(simple) - 1), -EPROTO);
        assert_int_equal(multipart_parser_feed(p, "more", 4), -EPROTO);
        assert_int_equal(multipart_parser_finish(p), -EPROTO);
        assert_int_equal(s.parts, 1);
        assert_null(s.data[0]);
        multipart_parser_free(p);
        seen_free(&s);
}

static void test_content_type(void **state)
{
        static const char *const good[] = {
                "multipart/form-data; boundary=abc",
                "Multipart/Form-Data;boundary=\"a b'()+_,-./:=?\"",
                "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxk",
                "multipart/form-data; boundary=------------------------"
                "1234567890123456789012345678901234567890123456",
        };
        static const char *const bad[] = {
                "application/json",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=\"\"",
                "multipart/mixed; boundary=abc",
                "multipart/form-datax; boundary=abc",
                "multipart/form-data; boundary=\"trailing \"",
                "multipart/form-data; boundary=\"bad\x01\"",
                "multipart/form-data; boundary="
                "12345678901234567890123456789012345678901234567890123456789012345678901",
        };
        struct multipart_parser *p;
        (void)state;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                if (multipart_parser_new(good[i], &cbs, NULL, &p) != 0)
                        fail_msg("refused: %s", good[i]);
                multipart_parser_free(p);
        }
        assert_int_equal(multipart_parser_new(NULL, &cbs, NULL, &p), -EINVAL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (multipart_parser_new(bad[i], &cbs, NULL, &p) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_simple_any_split),
                cmocka_unit_test(test_parse_binary_random),
                cmocka_unit_test(test_content_in_few_pieces),
                cmocka_unit_test(test_parse_parts_and_names),
                cmocka_unit_test(test_parse_empty_part_and_no_part),
                cmocka_unit_test(test_parse_malformed),
                cmocka_unit_test(test_parse_bounds),
                cmocka_unit_test(test_callback_error_sticks),
                cmocka_unit_test(test_content_type),
        };
        return cmocka_run_group_tests_name("multipart", tests, NULL, NULL);
}
