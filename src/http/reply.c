/* SPDX-License-Identifier: MIT */
/*
 * Every answer leaves through here, so every answer carries the security
 * headers of api.md §1 and every error has the {error, code} shape.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/router.h"
#include "http/static.h"
#include "util/cleanup.h"
#include "util/log.h"

#define CSP_POLICY                                                                                 \
        "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; "        \
        "img-src 'self' data:; script-src 'self'; style-src 'self'"

const char *http_default_code(unsigned status)
{
        switch (status) {
        case 400:
                return "invalid_request";
        case 401:
                return "unauthorized";
        case 403:
                return "forbidden";
        case 404:
                return "not_found";
        case 405:
                return "method_not_allowed";
        case 409:
                return "conflict";
        case 413:
                return "request_too_large";
        case 414:
                return "uri_too_long";
        case 416:
                return "range_not_satisfiable";
        case 429:
                return "rate_limited";
        case 503:
                return "unavailable";
        case 507:
                return "insufficient_storage";
        default:
                return status >= 500 ? "internal_error" : "invalid_request";
        }
}

void http_add_security_headers(struct MHD_Response *resp)
{
        MHD_add_response_header(resp, "Content-Security-Policy", CSP_POLICY);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

int http_reply_response(struct http_request *req, unsigned status, struct MHD_Response *resp,
                        unsigned flags)
{
        enum MHD_Result q;

        if (!resp)
                return -ENOMEM;
        if (req->responded) {
                MHD_destroy_response(resp);
                return -EALREADY;
        }
        http_add_security_headers(resp);
        if (flags & HTTP_REPLY_NO_STORE)
                MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Request-Id", req->request_id);
        q = MHD_queue_response(req->conn, status, resp);
        MHD_destroy_response(resp);
        if (q != MHD_YES)
                return -EIO;
        req->responded = true;
        req->status = status;
        return 0;
}

struct MHD_Response *http_response_from_json(json_t *body)
{
        struct MHD_Response *resp;
        char *text;

        text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
        json_decref(body);
        if (!text)
                return NULL;
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return NULL;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return resp;
}

int http_reply_json(struct http_request *req, unsigned status, json_t *body, unsigned flags)
{
        return http_reply_response(req, status, http_response_from_json(body), flags);
}

int http_reply_json_raw(struct http_request *req, unsigned status, const char *data, size_t len,
                        unsigned flags)
{
        struct MHD_Response *resp;

        resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return -ENOMEM;
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return http_reply_response(req, status, resp, flags);
}

int http_reply_error(struct http_request *req, unsigned status, const char *code,
                     const char *message)
{
        json_t *body = json_pack("{s:s,s:s}", "error", message ? message : "error", "code",
                                 code ? code : http_default_code(status));
        if (!body)
                return -ENOMEM;
        return http_reply_json(req, status, body, 0);
}

/* The web UI's not-found page (web/404.html) for unknown non-API paths;
 * a plain page when the build has none.  No inline script or style, so
 * the CSP holds. */
int http_reply_not_found_page(struct http_request *req)
{
        static const char page[] =
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Not found</title></head><body><main><h1>Page not found</h1>"
                "<p>The page you asked for does not exist.</p><p><a href=\"/\">Home</a></p>"
                "</main></body></html>\n";
        const struct http_asset *a = http_asset_by_name("404.html");
        struct MHD_Response *resp;

        if (a)
                return http_reply_asset(req, 404, a);
        resp = MHD_create_response_from_buffer(sizeof(page) - 1, (void *)page,
                                               MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return -ENOMEM;
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        return http_reply_response(req, 404, resp, 0);
}
