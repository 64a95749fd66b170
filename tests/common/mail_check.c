/* SPDX-License-Identifier: MIT */
/* Implementation of tests/common/mail_check.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mail_check.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *mail_check_split(const char *msg, const char **ret_body)
{
        const char *end = strstr(msg, "\r\n\r\n");
        char *copy;

        assert_non_null(end);
        *ret_body = end + 4;
        copy = strndup(msg, (size_t)(end - msg) + 2);
        assert_non_null(copy);
        return copy;
}

char *mail_check_header(const char *msg, const char *name)
{
        size_t nlen = strlen(name);

        for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
                if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
                        char *out = calloc(1, strlen(p) + 1);
                        size_t n = 0;

                        assert_non_null(out);
                        p += nlen + 1;
                        p += strspn(p, " ");
                        while (*p) {
                                if (p[0] == '\r' && p[1] == '\n') {
                                        if (p[2] != ' ' && p[2] != '\t')
                                                break;
                                        p += 2; /* unfold */
                                        continue;
                                }
                                out[n++] = *p++;
                        }
                        return out;
                }
                p = strstr(p, "\r\n");
                if (!p)
                        break;
                p += 2;
        }
        return NULL;
}

void mail_check_header_equal(const char *msg, const char *name, const char *value)
{
        char *v = mail_check_header(msg, name);

        if (!v)
                fail_msg("no %s header", name);
        assert_string_equal(v, value);
        free(v);
}

char *mail_check_decode_words(const char *v)
{
        char *out = calloc(1, strlen(v) + 1);
        size_t n = 0;

        assert_non_null(out);
        while (*v) {
                const char *end;
                size_t bin_len;

                if (strncmp(v, "=?UTF-8?B?", 10) != 0)
                        fail_msg("not an encoded-word: %s", v);
                end = strstr(v + 10, "?=");
                assert_non_null(end);
                assert_true((size_t)(end + 2 - v) <= 75);
                assert_int_equal(sodium_base642bin((unsigned char *)out + n, strlen(v), v + 10,
                                                   (size_t)(end - v - 10), NULL, &bin_len, NULL,
                                                   sodium_base64_VARIANT_ORIGINAL),
                                 0);
                n += bin_len;
                v = end + 2;
                v += strspn(v, " ");
        }
        out[n] = '\0';
        return out;
}

char *mail_check_qp_decode(const char *s)
{
        char *out = calloc(1, strlen(s) + 1);
        size_t n = 0;

        assert_non_null(out);
        while (*s) {
                if (s[0] == '=' && s[1] == '\r' && s[2] == '\n')
                        s += 3;
                else if (s[0] == '=') {
                        unsigned v;
                        assert_int_equal(sscanf(s + 1, "%2X", &v), 1);
                        out[n++] = (char)v;
                        s += 3;
                } else if (s[0] == '\r' && s[1] == '\n') {
                        out[n++] = '\n';
                        s += 2;
                } else
                        out[n++] = *s++;
        }
        return out;
}

void mail_check_crlf_only(const char *s)
{
        for (const char *p = s; *p; p++) {
                if (*p == '\n')
                        assert_true(p > s && p[-1] == '\r');
                if (*p == '\r')
                        assert_int_equal(p[1], '\n');
        }
}

void mail_check_lines_within(const char *s, size_t max)
{
        while (*s) {
                size_t n = strcspn(s, "\r");
                if (n > max)
                        fail_msg("a line of %zu characters (at most %zu)", n, max);
                s += n;
                if (*s)
                        s += 2;
        }
}
