/* SPDX-License-Identifier: MIT */
/*
 * The machine error codes of the API (api.md §1 and the endpoint
 * sections), each with its HTTP status, in one table: handlers name an
 * error by its enum value and never spell a code or pick a status
 * themselves.  Every error leaves as {"error": message, "code": code}
 * through http_reply_error().  The HTTP layer keeps only its generic
 * status -> default code mapping (http_default_code()) for the answers
 * it gives before any handler runs.
 */
#pragma once

#include <microhttpd.h>

#include "http/http.h"

enum api_error {
        /* 400 */
        API_ERR_INVALID_REQUEST,
        API_ERR_INVALID_JSON,
        API_ERR_TRAILING_JSON,
        API_ERR_FIELD_TOO_LONG,
        API_ERR_INVALID_OPERATION,
        API_ERR_INVALID_PAYLOAD,
        API_ERR_INLINE_BINARY_FORBIDDEN,
        API_ERR_INVALID_BLOB_REFERENCE,
        API_ERR_BLOB_NOT_OWNED,
        API_ERR_INVALID_BLOB_HASH,
        API_ERR_INVALID_MULTIPART,
        /* 401 */
        API_ERR_UNAUTHORIZED,
        /* 403 */
        API_ERR_FORBIDDEN,
        API_ERR_CSRF_INVALID,
        API_ERR_REGISTRATION_DISABLED,
        API_ERR_PASSWORD_CONFIRMATION_FAILED, /* the console's re-confirmation */
        API_ERR_INVITATION_INVALID,
        API_ERR_INVITATION_EXPIRED,
        API_ERR_INVITATION_EMAIL_MISMATCH,
        /* 404 */
        API_ERR_NOT_FOUND,
        API_ERR_BLOB_NOT_FOUND,
        /* 409 */
        API_ERR_CONFLICT,
        /* 413 */
        API_ERR_REQUEST_TOO_LARGE,
        API_ERR_PAYLOAD_TOO_LARGE,
        API_ERR_TOO_MANY_OPERATIONS,
        API_ERR_BLOB_TOO_LARGE,
        API_ERR_QUOTA_EXCEEDED,
        /* 416 */
        API_ERR_RANGE_NOT_SATISFIABLE,
        /* 429 */
        API_ERR_RATE_LIMITED,
        API_ERR_TOO_MANY_UPLOADS,
        /* 500 */
        API_ERR_INTERNAL,
        API_ERR_BLOB_UNAVAILABLE,
        /* 502 */
        API_ERR_MAIL_FAILED,
        /* 503: the database cannot take a write in time */
        API_ERR_UNAVAILABLE,
        /* 503: account e-mail needs public_url (no link from a foreign Host) */
        API_ERR_PUBLIC_URL_REQUIRED,
        /* 507: a write would eat into the data filesystem's reserve */
        API_ERR_INSUFFICIENT_STORAGE,

        API_ERR_COUNT
};

/* The machine code of e ("invalid_request", …); "internal_error" for a
 * value outside the table. */
const char *api_error_code(enum api_error e);

/* The HTTP status of e; 500 for a value outside the table. */
unsigned api_error_status(enum api_error e);

/* Answer {"error": message, "code": …} with e's status.  message is the
 * human text: never a secret, SQL, a path or errno text.  Returns 0 or a
 * negative errno, like every http_reply_*(). */
int api_error(struct http_request *req, enum api_error e, const char *message);

/* api_error() for helpers whose callers tell "answered" from "carry on":
 * BODY_ANSWERED once sent, -EIO when it could not be. */
int api_error_answered(struct http_request *req, enum api_error e, const char *message);

/* The JSON response of e for handlers that add headers before
 * http_reply_response(req, api_error_status(e), …) (Retry-After,
 * Content-Range).  NULL when out of memory. */
struct MHD_Response *api_error_response(enum api_error e, const char *message);
