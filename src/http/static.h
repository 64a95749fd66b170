/* SPDX-License-Identifier: MIT */
/*
 * Static assets compiled into the binary (the web UI of web/, embedded by
 * scripts/embed-web.py at build time, so the sandboxed daemon opens no
 * files to serve them).  Answers carry the Content-Type, a strong ETag
 * (If-None-Match gives 304), Cache-Control: no-cache (revalidate every
 * time; names are not content-hashed) and the precomputed gzip variant
 * when Accept-Encoding allows.  Generic: nothing here knows which page is
 * which beyond the names callers pass.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

struct http_asset {
        const char *name;         /* path under web/: "css/app.css" */
        const char *url;          /* path served at ("/css/app.css"), or NULL */
        const char *content_type; /* with charset for text */
        const char *etag;         /* quoted, of the identity bytes */
        const unsigned char *data;
        size_t size;
        const unsigned char *gzip; /* NULL when gzip would not be smaller */
        size_t gzip_size;
};

/* The generated table (web_assets.c). */
extern const struct http_asset http_assets[];
extern const size_t http_n_assets;

/* The asset served at URL path, or NULL. */
const struct http_asset *http_asset_by_url(const char *path);

/* The asset with this name under web/ (also those without a URL), or NULL. */
const struct http_asset *http_asset_by_name(const char *name);

/* Whether an Accept-Encoding value accepts gzip (gzip, x-gzip or *, not
 * with q=0).  NULL: no. */
bool http_accepts_gzip(const char *accept_encoding);

/* Whether an If-None-Match value matches etag ("*", or one of its
 * comma-separated tags, weak or strong).  NULL: no. */
bool http_etag_matches(const char *if_none_match, const char *etag);

/* Answer with asset a.  status 200: conditional (304 when If-None-Match
 * matches), Cache-Control: no-cache.  Any other status (an error page):
 * unconditional, Cache-Control: no-store.  gzip when accepted and
 * smaller; Vary: Accept-Encoding.  Returns what http_reply_response()
 * returns. */
int http_reply_asset(struct http_request *req, unsigned status, const struct http_asset *a);

/* The not-found page (web/404.html, or a plain built-in one) with 404. */
int http_reply_not_found_page(struct http_request *req);
