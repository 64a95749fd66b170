/* SPDX-License-Identifier: MIT */
/*
 * Request bodies read through declarative field specs (style.md §7): a
 * handler lists its fields (name, type, required, maximum length; see
 * http/body.h) with the messages of its endpoint, and one call parses the
 * body, checks every field and answers the contract's error itself:
 *   not JSON, not an object, a field of the wrong type: 400 invalid_json
 *   a second JSON value after the first:                400 trailing_json
 *   a malformed form (when forms are accepted):         400 invalid_request
 *   a required field missing, null, empty or blank:     spec->missing_error
 *   a string longer than its max_len:                   spec->too_long_error
 * Checks that need more than the body (rate limits, the database) stay in
 * the handler, after this call.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "api/errors.h"
#include "http/body.h"

struct api_fields {
        const struct body_field *fields;
        size_t n_fields;
        /* The message when a required field is missing; NULL: "<name> is
         * required".  Answered with missing_error (default, being 0:
         * API_ERR_INVALID_REQUEST). */
        const char *missing;
        enum api_error missing_error;
        /* The message when a string is over its max_len; NULL: "<name> is
         * too long".  Answered with too_long_error (default
         * API_ERR_INVALID_REQUEST). */
        const char *too_long;
        enum api_error too_long_error;
        /* The message for a field of the wrong type; NULL: "invalid JSON
         * body" ("invalid form field" in a form). */
        const char *wrong_type;
        /* Accept an application/x-www-form-urlencoded body (a web form),
         * its values being strings, as well as JSON. */
        bool form;
        /* Parse a JSON body into this arena (util/json_arena.h): the
         * caller then frees the root with json_arena_release(). */
        struct json_arena *arena;
};

/* Parse the request body against spec, as JSON whatever Content-Type
 * says (clients are not consistent about it) unless spec->form and the
 * body is a form.  0 on success, *ret_root owning the values the outputs
 * point into (json_decref() it when done); BODY_ANSWERED after an error
 * answer; a negative errno otherwise. */
int api_fields_parse(struct http_request *req, const struct api_fields *spec, json_t **ret_root);

/* Check the JSON object obj (a member of a body already parsed, e.g. one
 * op of a push) against spec and fill its outputs, answering as above.
 * 0, BODY_ANSWERED, or a negative errno. */
int api_fields_read(struct http_request *req, json_t *obj, const struct api_fields *spec);
