/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/html_page.h: escaping, the page layout and the
 * answer's headers.
 */
#include "api/html_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "util/text.h"

#include "api/app.h"
#include "util/cleanup.h"

char *html_escape(const char *s)
{
        size_t len = 0;
        char *out, *o;

        for (const char *p = s; *p; p++)
                len += strchr("<>&\"'", *p) ? 6 : 1;
        out = o = malloc(len + 1);
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                const char *e = *p == '<'    ? "&lt;"
                                : *p == '>'  ? "&gt;"
                                : *p == '&'  ? "&amp;"
                                : *p == '"'  ? "&quot;"
                                : *p == '\'' ? "&#39;"
                                             : NULL;
                if (e) {
                        memcpy(o, e, strlen(e));
                        o += strlen(e);
                } else
                        *o++ = *p;
        }
        *o = '\0';
        return out;
}

static char *render(const struct html_page *p, const char *locale, const char *root,
                    const char *server_name)
{
        _cleanup_free_ char *name = html_escape(server_name ? server_name : "");
        _cleanup_free_ char *link = NULL;
        bool ru = strcmp(locale, "ru") == 0;
        char *page = NULL;

        if (!name)
                return NULL;
        if (p->link_page &&
            asprintf(&link, "<div class=\"actions\"><a class=\"button\" href=\"%s%s\">%s</a></div>",
                     root, p->link_page, p->link_text) < 0)
                return NULL;
        if (asprintf(&page,
                     "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"robots\" content=\"noindex\">"
                     "<title>%s — %s</title>"
                     "<link rel=\"icon\" href=\"%sfavicon.svg\" type=\"image/svg+xml\">"
                     "<link rel=\"stylesheet\" href=\"%scss/app.css\">"
                     "<script type=\"module\" src=\"%sjs/pages/plain.js\"></script></head>\n"
                     "<body><a class=\"skip-link\" href=\"#main\">%s</a>"
                     "<header class=\"site-header\" id=\"site-header\">"
                     "<a class=\"brand\" href=\"%s\">%s</a></header>\n"
                     "<main id=\"main\" tabindex=\"-1\"><div class=\"narrow card\"><h1>%s</h1>"
                     "<p>%s</p>%s%s</div></main>\n"
                     "<footer class=\"site-footer\" id=\"site-footer\"></footer></body></html>\n",
                     locale, p->title, name, root, root, root,
                     ru ? "К содержимому" : "Skip to content", root, name, p->heading, p->text,
                     p->form ? p->form : "", link ? link : "") < 0)
                return NULL;
        return page;
}

int html_page_reply(struct http_request *req, unsigned status, const char *locale, const char *root,
                    const struct html_page *p)
{
        char *page = render(p, locale, root, api_app(req)->config->web.server_name);
        struct MHD_Response *resp;

        if (!page)
                return -ENOMEM;
        resp = MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(page);
                return -ENOMEM;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    "text/html; charset=utf-8") != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_LANGUAGE, locale) != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Cookie, Accept-Language") !=
                    MHD_YES) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        return http_reply_response(req, status, resp, HTTP_REPLY_NO_STORE);
}

enum html_link html_page_classify_link(struct http_request *req, const char *const *results,
                                       size_t n, size_t *ret_index, const char **ret_token)
{
        const char *result = http_query(req, "result");
        const char *token = http_query(req, "token");

        if (result && !token) {
                for (size_t i = 0; i < n; i++)
                        if (results[i] && strcmp(result, results[i]) == 0) {
                                *ret_index = i;
                                return HTML_LINK_RESULT;
                        }
                return HTML_LINK_BAD_RESULT;
        }
        if (!token || !*token)
                return HTML_LINK_MISSING;
        if (!hex_is_lower(token, TOKEN_EMAIL_HEX))
                return HTML_LINK_BAD_TOKEN;
        *ret_token = token;
        return HTML_LINK_TOKEN;
}
