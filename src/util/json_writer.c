/* SPDX-License-Identifier: MIT */
/* Implementation of util/json_writer.h. */
#include "util/json_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_writer_init(struct json_writer *w, size_t initial)
{
        *w = (struct json_writer){0};
        w->cap = initial ? initial : 256;
        w->buf = malloc(w->cap);
        w->failed = !w->buf;
}

static void reserve(struct json_writer *w, size_t more)
{
        if (w->failed || w->len + more + 1 <= w->cap)
                return;
        size_t cap = w->cap;
        while (cap < w->len + more + 1)
                cap *= 2;
        char *n = realloc(w->buf, cap);
        if (!n) {
                w->failed = true;
                return;
        }
        w->buf = n;
        w->cap = cap;
}

static void append(struct json_writer *w, const char *s, size_t n)
{
        reserve(w, n);
        if (w->failed)
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void separate(struct json_writer *w)
{
        if (w->need_comma)
                append(w, ",", 1);
        w->need_comma = true;
}

void json_writer_begin_object(struct json_writer *w)
{
        separate(w);
        append(w, "{", 1);
        w->need_comma = false;
}

void json_writer_end_object(struct json_writer *w)
{
        append(w, "}", 1);
        w->need_comma = true;
}

void json_writer_begin_array(struct json_writer *w)
{
        separate(w);
        append(w, "[", 1);
        w->need_comma = false;
}

void json_writer_end_array(struct json_writer *w)
{
        append(w, "]", 1);
        w->need_comma = true;
}

static void write_escaped(struct json_writer *w, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        const char *run = s;

        append(w, "\"", 1);
        for (const char *p = s; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                append(w, run, (size_t)(p - run));
                run = p + 1;
                switch (c) {
                case '"':
                        append(w, "\\\"", 2);
                        break;
                case '\\':
                        append(w, "\\\\", 2);
                        break;
                case '\n':
                        append(w, "\\n", 2);
                        break;
                case '\r':
                        append(w, "\\r", 2);
                        break;
                case '\t':
                        append(w, "\\t", 2);
                        break;
                default: {
                        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                        append(w, u, 6);
                }
                }
        }
        append(w, run, strlen(run));
        append(w, "\"", 1);
}

/* The escape of byte c, or 0 when it passes unchanged: its length, and
 * its text in out. */
static size_t escape_of(unsigned char c, char out[6])
{
        static const char hex[] = "0123456789abcdef";

        if (c >= 0x20 && c != '"' && c != '\\')
                return 0;
        out[0] = '\\';
        switch (c) {
        case '"':
                out[1] = '"';
                return 2;
        case '\\':
                out[1] = '\\';
                return 2;
        case '\n':
                out[1] = 'n';
                return 2;
        case '\r':
                out[1] = 'r';
                return 2;
        case '\t':
                out[1] = 't';
                return 2;
        default:
                out[1] = 'u';
                out[2] = '0';
                out[3] = '0';
                out[4] = hex[c >> 4];
                out[5] = hex[c & 15];
                return 6;
        }
}

size_t json_escaped_len(const char *s)
{
        size_t n = 0;
        char e[6];

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                size_t k = escape_of(*p, e);
                n += k ? k : 1;
        }
        return n;
}

size_t json_escape_some(const char *s, size_t *pos, char *out, size_t max)
{
        size_t i = *pos, n = 0;
        char e[6];

        while (s[i]) {
                size_t k = escape_of((unsigned char)s[i], e);
                if (k == 0) {
                        /* A run of plain bytes in one copy. */
                        size_t run = 1;
                        while (s[i + run] && run < max - n &&
                               escape_of((unsigned char)s[i + run], e) == 0)
                                run++;
                        if (n + run > max)
                                break;
                        memcpy(out + n, s + i, run);
                        n += run;
                        i += run;
                        continue;
                }
                if (n + k > max)
                        break;
                memcpy(out + n, e, k);
                n += k;
                i++;
        }
        *pos = i;
        return n;
}

void json_writer_key(struct json_writer *w, const char *key)
{
        separate(w);
        write_escaped(w, key);
        append(w, ":", 1);
        w->need_comma = false;
}

void json_writer_string(struct json_writer *w, const char *s)
{
        separate(w);
        write_escaped(w, s ? s : "");
}

void json_writer_raw(struct json_writer *w, const char *text, size_t len)
{
        separate(w);
        append(w, text, len);
}

void json_writer_int(struct json_writer *w, int64_t v)
{
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRId64, v);

        separate(w);
        append(w, num, (size_t)n);
}

void json_writer_bool(struct json_writer *w, bool v)
{
        separate(w);
        append(w, v ? "true" : "false", v ? 4 : 5);
}

char *json_writer_finish(struct json_writer *w, size_t *ret_len)
{
        if (w->failed) {
                free(w->buf);
                *w = (struct json_writer){0};
                return NULL;
        }
        w->buf[w->len] = '\0';
        if (ret_len)
                *ret_len = w->len;
        char *out = w->buf;
        *w = (struct json_writer){0};
        return out;
}

void json_writer_member_string(struct json_writer *w, const char *key, const char *value)
{
        json_writer_key(w, key);
        json_writer_string(w, value);
}

void json_writer_member_int(struct json_writer *w, const char *key, int64_t value)
{
        json_writer_key(w, key);
        json_writer_int(w, value);
}
