/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/errors.h: the table of machine codes and statuses,
 * indexed by enum api_error, and the answers built from it.
 */
#include "api/errors.h"

#include <errno.h>

#include "http/body.h"
#include "util/cleanup.h"

static const struct {
        const char *code;
        unsigned status;
} errors[API_ERR_COUNT] = {
        [API_ERR_INVALID_REQUEST] = {"invalid_request", 400},
        [API_ERR_INVALID_JSON] = {"invalid_json", 400},
        [API_ERR_TRAILING_JSON] = {"trailing_json", 400},
        [API_ERR_FIELD_TOO_LONG] = {"field_too_long", 400},
        [API_ERR_INVALID_OPERATION] = {"invalid_operation", 400},
        [API_ERR_INVALID_PAYLOAD] = {"invalid_payload", 400},
        [API_ERR_INLINE_BINARY_FORBIDDEN] = {"inline_binary_forbidden", 400},
        [API_ERR_INVALID_BLOB_REFERENCE] = {"invalid_blob_reference", 400},
        [API_ERR_BLOB_NOT_OWNED] = {"blob_not_owned", 400},
        [API_ERR_INVALID_BLOB_HASH] = {"invalid_blob_hash", 400},
        [API_ERR_INVALID_MULTIPART] = {"invalid_multipart", 400},
        [API_ERR_UNAUTHORIZED] = {"unauthorized", 401},
        [API_ERR_FORBIDDEN] = {"forbidden", 403},
        [API_ERR_CSRF_INVALID] = {"csrf_invalid", 403},
        [API_ERR_REGISTRATION_DISABLED] = {"registration_disabled", 403},
        [API_ERR_PASSWORD_CONFIRMATION_FAILED] = {"password_confirmation_failed", 403},
        [API_ERR_INVITATION_INVALID] = {"invitation_invalid", 403},
        [API_ERR_INVITATION_EXPIRED] = {"invitation_expired", 403},
        [API_ERR_INVITATION_EMAIL_MISMATCH] = {"invitation_email_mismatch", 403},
        [API_ERR_NOT_FOUND] = {"not_found", 404},
        [API_ERR_BLOB_NOT_FOUND] = {"blob_not_found", 404},
        [API_ERR_CONFLICT] = {"conflict", 409},
        [API_ERR_REQUEST_TOO_LARGE] = {"request_too_large", 413},
        [API_ERR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413},
        [API_ERR_TOO_MANY_OPERATIONS] = {"too_many_operations", 413},
        [API_ERR_BLOB_TOO_LARGE] = {"blob_too_large", 413},
        [API_ERR_QUOTA_EXCEEDED] = {"quota_exceeded", 413},
        [API_ERR_RANGE_NOT_SATISFIABLE] = {"range_not_satisfiable", 416},
        [API_ERR_RATE_LIMITED] = {"rate_limited", 429},
        [API_ERR_TOO_MANY_UPLOADS] = {"too_many_uploads", 429},
        [API_ERR_INTERNAL] = {"internal_error", 500},
        [API_ERR_BLOB_UNAVAILABLE] = {"blob_unavailable", 500},
        [API_ERR_MAIL_FAILED] = {"mail_failed", 502},
        [API_ERR_UNAVAILABLE] = {"unavailable", 503},
        [API_ERR_PUBLIC_URL_REQUIRED] = {"public_url_required", 503},
        [API_ERR_INSUFFICIENT_STORAGE] = {"insufficient_storage", 507},
};

static bool known(enum api_error e)
{
        return (unsigned)e < ELEMENTSOF(errors) && errors[e].code;
}

const char *api_error_code(enum api_error e)
{
        return known(e) ? errors[e].code : errors[API_ERR_INTERNAL].code;
}

unsigned api_error_status(enum api_error e)
{
        return known(e) ? errors[e].status : errors[API_ERR_INTERNAL].status;
}

int api_error(struct http_request *req, enum api_error e, const char *message)
{
        return http_reply_error(req, api_error_status(e), api_error_code(e), message);
}

int api_error_answered(struct http_request *req, enum api_error e, const char *message)
{
        return api_error(req, e, message) < 0 ? -EIO : BODY_ANSWERED;
}

struct MHD_Response *api_error_response(enum api_error e, const char *message)
{
        return http_response_from_json(json_pack("{s:s,s:s}", "error", message ? message : "error",
                                                 "code", api_error_code(e)));
}
