/* SPDX-License-Identifier: MIT */
/*
 * Request body parsing driven by a field spec (style.md §7): one call turns
 * a buffered JSON body (or an application/x-www-form-urlencoded form, whose
 * values are strings) into typed values, and answers the contract's error
 * itself when the body is not acceptable:
 *   not JSON, not an object, or a field of the wrong type: 400 invalid_json
 *   a second JSON value after the first:                  400 trailing_json
 * Unknown fields are ignored; missing and null fields leave the output at
 * its zero value.  Whether a field is required, and its length limits, are
 * the handler's business (the messages differ per endpoint).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"

enum body_field_type {
        BODY_STRING, /* const char ** (borrowed from the returned root) */
        BODY_INT,    /* int64_t *: a JSON integer */
        BODY_BOOL,   /* bool * */
        BODY_ARRAY,  /* json_t ** (borrowed) */
        BODY_OBJECT, /* json_t ** (borrowed) */
};

struct body_field {
        const char *name;
        enum body_field_type type;
        void *out;
        bool *present; /* optional: set when the field was given (not null) */
};

/* Result of body_parse(): 0 parsed; BODY_ANSWERED when an error answer was
 * already sent (the handler just returns 0); negative errno otherwise. */
#define BODY_ANSWERED 1

/* Parse the request body as JSON, whatever Content-Type says (clients are
 * not consistent about it).  On 0, *ret_root owns the values that string,
 * array and object outputs point into: json_decref() it when done. */
int body_parse(struct http_request *req, const struct body_field *fields, size_t n_fields,
               json_t **ret_root);

/* Like body_parse(), but an application/x-www-form-urlencoded body (a web
 * form) is accepted too, its values being strings. */
int body_parse_json_or_form(struct http_request *req, const struct body_field *fields,
                            size_t n_fields, json_t **ret_root);

/* Whether the request body is declared application/x-www-form-urlencoded. */
bool body_is_form(struct http_request *req);

/* Parse JSON text with the same rules (no request needed; used by tests).
 * Returns 0, -EBADMSG (invalid JSON / not an object / wrong type) or
 * -ENOTEMPTY (trailing JSON).  err, if given, receives the field name or
 * parser message. */
int body_parse_text(const char *text, size_t len, const struct body_field *fields, size_t n_fields,
                    json_t **ret_root, char *err, size_t err_size);

/* Decode an application/x-www-form-urlencoded body into a JSON object of
 * strings (the last occurrence of a name wins).  NULL on malformed input. */
json_t *body_form_to_json(const char *text, size_t len);

/* jansson provides json_decrefp(); this names it like the other cleanups. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))
