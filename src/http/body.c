/* SPDX-License-Identifier: MIT */
/* Implementation of http/body.h on jansson. */
#include "http/body.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/text.h"

/* Pass 1: types and outputs; values[i] is field i's member (or NULL),
 * looked up once for all three passes. */
static int extract_types(json_t *root, const struct body_field *fields, size_t n, json_t **values,
                         char *err, size_t err_size)
{
        for (size_t i = 0; i < n; i++) {
                json_t *v = values[i] = json_object_get(root, fields[i].name);
                bool ok = true;

                if (fields[i].present)
                        *fields[i].present = false;
                if (!v || json_is_null(v))
                        continue;
                switch (fields[i].type) {
                case BODY_STRING:
                        ok = json_is_string(v);
                        if (ok)
                                *(const char **)fields[i].out = json_string_value(v);
                        break;
                case BODY_INT:
                        ok = json_is_integer(v);
                        if (ok)
                                *(int64_t *)fields[i].out = json_integer_value(v);
                        break;
                case BODY_BOOL:
                        ok = json_is_boolean(v);
                        if (ok)
                                *(bool *)fields[i].out = json_is_true(v);
                        break;
                case BODY_ARRAY:
                        ok = json_is_array(v);
                        if (ok)
                                *(json_t **)fields[i].out = v;
                        break;
                case BODY_OBJECT:
                        ok = json_is_object(v);
                        if (ok)
                                *(json_t **)fields[i].out = v;
                        break;
                }
                if (!ok) {
                        if (err && err_size)
                                snprintf(err, err_size, "%s has the wrong type", fields[i].name);
                        return -EBADMSG;
                }
                if (fields[i].present)
                        *fields[i].present = true;
        }
        return 0;
}

/* Whether a string value counts as given for flags. */
static bool string_given(const char *s, unsigned flags)
{
        if (!s || !s[0])
                return false;
        if (!(flags & BODY_NOT_BLANK))
                return true;
        for (; *s; s++)
                if (!isspace((unsigned char)*s))
                        return true;
        return false;
}

int body_extract(json_t *obj, const struct body_field *fields, size_t n_fields, char *err,
                 size_t err_size)
{
        json_t *values[BODY_FIELDS_MAX];
        int r;

        if (n_fields > BODY_FIELDS_MAX)
                return -E2BIG;
        r = extract_types(obj, fields, n_fields, values, err, err_size);
        if (r < 0)
                return r;
        /* Pass 2: required fields. */
        for (size_t i = 0; i < n_fields; i++) {
                const struct body_field *f = &fields[i];
                json_t *v = values[i];
                bool given;

                if (!(f->flags & (BODY_REQUIRED | BODY_NOT_BLANK)))
                        continue;
                if (f->type == BODY_STRING)
                        given = json_is_string(v) && string_given(json_string_value(v), f->flags);
                else
                        given = v && !json_is_null(v);
                if (!given) {
                        if (err && err_size)
                                snprintf(err, err_size, "%s is required", f->name);
                        return -ENODATA;
                }
        }
        /* Pass 3: lengths. */
        for (size_t i = 0; i < n_fields; i++) {
                const struct body_field *f = &fields[i];
                json_t *v = values[i];

                if (f->type != BODY_STRING || f->max_len == 0 || !json_is_string(v))
                        continue;
                if (json_string_length(v) > f->max_len) {
                        if (err && err_size)
                                snprintf(err, err_size, "%s is too long", f->name);
                        return -EMSGSIZE;
                }
        }
        return 0;
}

int body_parse_text(const char *text, size_t len, const struct body_field *fields, size_t n_fields,
                    struct json_arena *arena, json_t **ret_root, char *err, size_t err_size)
{
        json_error_t jerr;
        json_t *root;
        int r;

        if (!text || len == 0) {
                if (err && err_size)
                        snprintf(err, err_size, "empty body");
                return -EBADMSG;
        }
        const size_t flags = JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES;
        root = arena ? json_arena_loadb(arena, text, len, flags, &jerr)
                     : json_loadb(text, len, flags, &jerr);
        if (!root) {
                if (err && err_size)
                        snprintf(err, err_size, "%s", jerr.text);
                return -EBADMSG;
        }
        /* Whatever follows the first value must be white space only. */
        for (size_t i = (size_t)jerr.position; i < len; i++)
                if (!isspace((unsigned char)text[i])) {
                        json_decref(root);
                        if (err && err_size)
                                snprintf(err, err_size, "trailing data after the JSON value");
                        return -ENOTEMPTY;
                }
        if (!json_is_object(root)) {
                json_decref(root);
                if (err && err_size)
                        snprintf(err, err_size, "body must be a JSON object");
                return -EBADMSG;
        }
        r = body_extract(root, fields, n_fields, err, err_size);
        if (r < 0) {
                json_decref(root);
                return r;
        }
        *ret_root = root;
        return 0;
}

/* Decode one percent-encoded component into a new string (NULL if bad). */
static char *form_decode(const char *s, size_t len)
{
        char *out = malloc(len + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '+')
                        out[o++] = ' ';
                else if (s[i] == '%') {
                        int h, l;
                        if (i + 2 >= len) {
                                free(out);
                                return NULL;
                        }
                        h = hex_digit(s[i + 1]);
                        l = hex_digit(s[i + 2]);
                        if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                                free(out);
                                return NULL;
                        }
                        out[o++] = (char)(h * 16 + l);
                        i += 2;
                } else
                        out[o++] = s[i];
        }
        out[o] = '\0';
        return out;
}

json_t *body_form_to_json(const char *text, size_t len)
{
        json_t *obj = json_object();
        size_t i = 0;

        if (!obj)
                return NULL;
        while (i < len) {
                size_t end = i, eq;
                while (end < len && text[end] != '&')
                        end++;
                for (eq = i; eq < end && text[eq] != '='; eq++)
                        ;
                if (end > i) {
                        _cleanup_free_ char *k = form_decode(text + i, eq - i);
                        _cleanup_free_ char *v =
                                eq < end ? form_decode(text + eq + 1, end - eq - 1) : strdup("");
                        /* Only when both decoded: json_object_set_new()
                         * takes js, nothing else would free it. */
                        json_t *js = k && v ? json_string(v) : NULL;
                        if (!k || !v || !js || json_object_set_new(obj, k, js) < 0) {
                                json_decref(obj);
                                return NULL;
                        }
                }
                i = end + 1;
        }
        return obj;
}

bool body_is_form(struct http_request *req)
{
        const char *ct = http_header(req, "Content-Type");
        return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}
