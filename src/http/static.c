/* SPDX-License-Identifier: MIT */
/*
 * Implementation of http/static.h: lookups in the generated table and the
 * conditional, content-negotiated answer.  The bytes are static: answers
 * point at them (MHD_RESPMEM_PERSISTENT), nothing is copied.
 */
#include "http/static.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct http_asset *http_asset_by_url(const char *path)
{
        for (size_t i = 0; i < http_n_assets; i++)
                if (http_assets[i].url && strcmp(http_assets[i].url, path) == 0)
                        return &http_assets[i];
        return NULL;
}

const struct http_asset *http_asset_by_name(const char *name)
{
        for (size_t i = 0; i < http_n_assets; i++)
                if (strcmp(http_assets[i].name, name) == 0)
                        return &http_assets[i];
        return NULL;
}

static const char *skip_blanks(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Length of the list element at p (up to ',' or the end). */
static size_t element_len(const char *p)
{
        return strcspn(p, ",");
}

/* Whether the parameters of one Accept-Encoding element say q=0. */
static bool q_is_zero(const char *params, size_t len)
{
        for (const char *p = params; p < params + len;) {
                const char *semi = memchr(p, ';', (size_t)(params + len - p));
                p = skip_blanks(semi ? semi + 1 : params + len);
                if (p >= params + len)
                        break;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                        /* q=0, q=0.0, q=0.000: zero; anything else is not. */
                        const char *v = p + 2;
                        if (*v != '0')
                                return false;
                        v++;
                        if (*v == '.')
                                for (v++; *v == '0'; v++)
                                        ;
                        return v >= params + len || *v == ' ' || *v == '\t' || *v == ';';
                }
        }
        return false;
}

bool http_accepts_gzip(const char *header)
{
        if (!header)
                return false;
        for (const char *p = header; *p;) {
                p = skip_blanks(p);
                size_t len = element_len(p);
                size_t tok = strcspn(p, ";, \t");
                if (tok > len)
                        tok = len;
                if ((tok == 4 && strncasecmp(p, "gzip", 4) == 0) ||
                    (tok == 6 && strncasecmp(p, "x-gzip", 6) == 0) || (tok == 1 && p[0] == '*'))
                        if (!q_is_zero(p + tok, len - tok))
                                return true;
                p += len;
                if (*p == ',')
                        p++;
        }
        return false;
}

bool http_etag_matches(const char *header, const char *etag)
{
        size_t elen = strlen(etag);

        if (!header)
                return false;
        for (const char *p = header; *p;) {
                p = skip_blanks(p);
                size_t len = element_len(p);
                const char *tag = p;
                size_t tlen = len;
                while (tlen > 0 && (tag[tlen - 1] == ' ' || tag[tlen - 1] == '\t'))
                        tlen--;
                if (tlen == 1 && tag[0] == '*')
                        return true;
                if (tlen > 2 && tag[0] == 'W' && tag[1] == '/') {
                        tag += 2;
                        tlen -= 2;
                }
                if (tlen == elen && memcmp(tag, etag, elen) == 0)
                        return true;
                p += len;
                if (*p == ',')
                        p++;
        }
        return false;
}

int http_reply_asset(struct http_request *req, unsigned status, const struct http_asset *a)
{
        bool gz = a->gzip && http_accepts_gzip(http_header(req, "Accept-Encoding"));
        char etag[80];
        struct MHD_Response *resp;

        /* The gzip bytes are another representation: another tag. */
        if (gz)
                snprintf(etag, sizeof(etag), "%.*s-gz\"", (int)strlen(a->etag) - 1, a->etag);
        else
                snprintf(etag, sizeof(etag), "%s", a->etag);

        if (status == 200 && http_etag_matches(http_header(req, "If-None-Match"), etag)) {
                resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                status = 304;
        } else if (gz)
                resp = MHD_create_response_from_buffer(a->gzip_size, (void *)a->gzip,
                                                       MHD_RESPMEM_PERSISTENT);
        else
                resp = MHD_create_response_from_buffer(a->size, (void *)a->data,
                                                       MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return -ENOMEM;
        if ((status != 304 &&
             MHD_add_response_header(resp, "Content-Type", a->content_type) != MHD_YES) ||
            (gz && status != 304 &&
             MHD_add_response_header(resp, "Content-Encoding", "gzip") != MHD_YES) ||
            (a->gzip && MHD_add_response_header(resp, "Vary", "Accept-Encoding") != MHD_YES)) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        if (status == 200 || status == 304) {
                if (MHD_add_response_header(resp, "ETag", etag) != MHD_YES ||
                    MHD_add_response_header(resp, "Cache-Control", "no-cache") != MHD_YES) {
                        MHD_destroy_response(resp);
                        return -ENOMEM;
                }
                return http_reply_response(req, status, resp, 0);
        }
        return http_reply_response(req, status, resp, HTTP_REPLY_NO_STORE);
}
