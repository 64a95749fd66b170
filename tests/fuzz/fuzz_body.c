/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for http/body.h: the same bytes as a JSON request body
 * (through a field spec of every type), parsed with malloc() and into a
 * json_arena (the two trees must be equal), and as a urlencoded form.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        const char *s = NULL;
        int64_t i = 0;
        bool b = false, has_s = false;
        json_t *a = NULL, *o = NULL, *root = NULL, *in_arena = NULL, *form;
        char err[160];
        static bool arena_ready;
        struct json_arena arena = {0};
        int r;

        if (!arena_ready) {
                if (json_arena_setup() < 0)
                        abort();
                arena_ready = true;
        }
        const struct body_field fields[] = {
                {"name", BODY_STRING, &s, &has_s}, {"count", BODY_INT, &i, NULL},
                {"flag", BODY_BOOL, &b, NULL},     {"items", BODY_ARRAY, &a, NULL},
                {"meta", BODY_OBJECT, &o, NULL},
        };

        /* The body is not NUL-terminated: the parser must respect len. */
        r = body_parse_text(text, size, fields, sizeof(fields) / sizeof(fields[0]), NULL, &root,
                            err, sizeof(err));
        if (r == 0) {
                if (!json_is_object(root) || (has_s && !s) || (a && !json_is_array(a)) ||
                    (o && !json_is_object(o)))
                        abort();
                if (s)
                        (void)strlen(s);
        }
        if (body_parse_text(text, size, fields, sizeof(fields) / sizeof(fields[0]), &arena,
                            &in_arena, err, sizeof(err)) != r ||
            (r == 0 && !json_equal(root, in_arena)))
                abort();
        json_decref(root);
        json_arena_release(&arena, in_arena);

        form = body_form_to_json(text, size);
        if (form) {
                const char *key;
                json_t *value;
                if (!json_is_object(form))
                        abort();
                json_object_foreach(form, key, value)
                {
                        if (!json_is_string(value))
                                abort();
                }
                json_decref(form);
        }
        return 0;
}
