/* SPDX-License-Identifier: MIT */
/*
 * The small HTML pages the server itself serves behind e-mail links (the
 * confirmation and password-reset pages), in the layout of the web UI
 * (web/): its stylesheet, header and footer, and web/js/pages/plain.js,
 * which draws the header's navigation and language switch.  A title, a
 * heading, a paragraph, an optional form and an optional link, in the
 * request's language; no inline script or style, so the
 * Content-Security-Policy holds, and the form works without script.  The
 * texts and forms belong to the callers; no database access here.
 */
#pragma once

#include "http/http.h"

/* What one page shows.  title, heading and text are trusted static text;
 * form is trusted HTML built by the caller (escape what goes into it). */
struct html_page {
        const char *title; /* before " — <server name>" */
        const char *heading;
        const char *text;
        const char *form; /* may be NULL */
        /* A link onwards (e.g. to the sign-in page), relative to the web
         * UI's root; NULL for none. */
        const char *link_page;
        const char *link_text;
};

/* What a GET of a page behind an e-mail link asks for. */
enum html_link {
        HTML_LINK_RESULT,     /* ?result=NAME, a known result page */
        HTML_LINK_BAD_RESULT, /* ?result= with an unknown name */
        HTML_LINK_MISSING,    /* no token */
        HTML_LINK_BAD_TOKEN,  /* a token that is not an e-mail token's shape */
        HTML_LINK_TOKEN,      /* a token to act on */
};

/* Classify the query of a link page: ?result=NAME is looked up in
 * results[0..n) (NULL entries never match; the index goes to *ret_index),
 * otherwise ?token= must be TOKEN_EMAIL_HEX lower-case hex (*ret_token,
 * borrowed from the request). */
enum html_link html_page_classify_link(struct http_request *req, const char *const *results,
                                       size_t n, size_t *ret_index, const char **ret_token);

/* HTML-escape s into a new string.  NULL on OOM. */
char *html_escape(const char *s);

/* Answer with page p in locale (from http_request_locale()) with the
 * given status, as text/html with Cache-Control: no-store (pages behind
 * e-mail links may hold a token).  root is the web UI's root relative to
 * the page ("../../../" for /api/v1/auth/confirm, "./" for /reset), so a
 * path prefix keeps working.  Returns what http_reply_response()
 * returns, or -ENOMEM. */
int html_page_reply(struct http_request *req, unsigned status, const char *locale, const char *root,
                    const struct html_page *p);
