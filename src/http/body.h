/* SPDX-License-Identifier: MIT */
/*
 * Request body parsing driven by a field spec (style.md §7): one call turns
 * a JSON body (or an application/x-www-form-urlencoded form, whose values
 * are strings) into typed values and checks each field against its spec:
 * type, whether it is required, and the longest string it may hold.  The
 * outcome is an errno with the faulty field named in err; answering is the
 * caller's business (api/fields.h maps outcomes to the contract's errors),
 * so this file knows no error code.  Unknown fields are ignored; missing
 * and null fields leave the output at its zero value.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "util/json_arena.h"

enum body_field_type {
        BODY_STRING, /* const char ** (borrowed from the returned root) */
        BODY_INT,    /* int64_t *: a JSON integer */
        BODY_BOOL,   /* bool * */
        BODY_ARRAY,  /* json_t ** (borrowed) */
        BODY_OBJECT, /* json_t ** (borrowed) */
};

/* Field flags. */
enum {
        BODY_REQUIRED = 1 << 0,  /* present and not null; a string also not empty */
        BODY_NOT_BLANK = 1 << 1, /* BODY_REQUIRED, and a string not only white space */
};

struct body_field {
        const char *name;
        enum body_field_type type;
        void *out;
        bool *present;  /* optional: set when the field was given (not null) */
        unsigned flags; /* BODY_REQUIRED, BODY_NOT_BLANK */
        size_t max_len; /* BODY_STRING: the longest value accepted, in bytes; 0: any */
};

/* What a helper returns once it has sent the answer itself (the handler
 * then just returns 0); helpers return 0 to carry on, or a negative errno. */
#define BODY_ANSWERED 1

/* The most fields one body_extract() checks. */
#define BODY_FIELDS_MAX 16

/* Check the members of the JSON object obj against fields and fill the
 * outputs, in three passes over all fields so the answer does not depend
 * on member order: types first, then required fields, then lengths.
 * Returns 0, -E2BIG (more than BODY_FIELDS_MAX fields: a caller's bug), -EBADMSG (a field of the
 * wrong type), -ENODATA (a required field missing, null, empty or blank) or -EMSGSIZE (a string
 * longer than its max_len); err, if given, then says which ("<name> is required"). */
int body_extract(json_t *obj, const struct body_field *fields, size_t n_fields, char *err,
                 size_t err_size);

/* Parse text as one JSON object, then body_extract() it.  Returns 0 with
 * *ret_root owning the values that string, array and object outputs point
 * into (json_decref() it when done; when arena is given, the tree is parsed
 * into it and json_arena_release() frees it instead), -EBADMSG (empty, invalid JSON, not an
 * object, a wrong type), -ENOTEMPTY (trailing data after the value), or
 * body_extract()'s -ENODATA / -EMSGSIZE.  err, if given, receives the
 * parser's message or the field's fault. */
int body_parse_text(const char *text, size_t len, const struct body_field *fields, size_t n_fields,
                    struct json_arena *arena, json_t **ret_root, char *err, size_t err_size);

/* Whether the request body is declared application/x-www-form-urlencoded. */
bool body_is_form(struct http_request *req);

/* Decode an application/x-www-form-urlencoded body into a JSON object of
 * strings (the last occurrence of a name wins).  NULL on malformed input. */
json_t *body_form_to_json(const char *text, size_t len);

/* jansson provides json_decrefp(); this names it like the other cleanups. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))
