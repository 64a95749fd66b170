/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/fields.h: the outcomes of http/body.c's field
 * checks turned into the contract's answers.
 */
#include "api/fields.h"

#include <errno.h>

_Static_assert(API_ERR_INVALID_REQUEST == 0,
               "a field spec that names no error answers invalid_request");

/* Answer the outcome r of a field check (err names the field). */
static int answer(struct http_request *req, const struct api_fields *spec, int r, const char *err,
                  bool form)
{
        switch (r) {
        case 0:
                return 0;
        case -EBADMSG:
                return api_error_answered(req, API_ERR_INVALID_JSON,
                                          spec->wrong_type ? spec->wrong_type
                                          : form           ? "invalid form field"
                                                           : "invalid JSON body");
        case -ENOTEMPTY:
                return api_error_answered(req, API_ERR_TRAILING_JSON,
                                          "unexpected data after the JSON body");
        case -ENODATA:
                return api_error_answered(req, spec->missing_error,
                                          spec->missing ? spec->missing : err);
        case -EMSGSIZE:
                return api_error_answered(req, spec->too_long_error,
                                          spec->too_long ? spec->too_long : err);
        default:
                return r < 0 ? r : -EINVAL;
        }
}

int api_fields_read(struct http_request *req, json_t *obj, const struct api_fields *spec)
{
        char err[160] = "";
        int r = json_is_object(obj)
                        ? body_extract(obj, spec->fields, spec->n_fields, err, sizeof(err))
                        : -EBADMSG;

        return answer(req, spec, r, err, false);
}

int api_fields_parse(struct http_request *req, const struct api_fields *spec, json_t **ret_root)
{
        char err[160] = "";
        json_t *root = NULL;
        int r;

        if (spec->form && body_is_form(req)) {
                root = body_form_to_json(req->body ? req->body : "", req->body_len);
                if (!root)
                        return api_error_answered(req, API_ERR_INVALID_REQUEST, "malformed form");
                r = body_extract(root, spec->fields, spec->n_fields, err, sizeof(err));
                if (r < 0) {
                        json_decref(root);
                        return answer(req, spec, r, err, true);
                }
                *ret_root = root;
                return 0;
        }
        r = body_parse_text(req->body, req->body_len, spec->fields, spec->n_fields, spec->arena,
                            &root, err, sizeof(err));
        if (r < 0)
                return answer(req, spec, r, err, false);
        *ret_root = root;
        return 0;
}
