/* SPDX-License-Identifier: MIT */
/*
 * @brief GET /api/v1/auth/confirm (api.md §6): the page behind the link in
 * the confirmation e-mail.  It only shows a button (a form POSTing the
 * token back), so a link scanner that follows the link confirms nothing;
 * with ?result=… it shows how the confirmation went.  Plain HTML in
 * English or Russian with no inline script or style (the CSP holds).  No
 * database access here: only the POST confirms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "auth/token.h"
#include "http/locale.h"
#include "server/app.h"
#include "util/cleanup.h"
#include "util/text.h"

/* The texts of one page in one language. */
struct page_text {
        const char *heading;
        const char *text;
        const char *link;  /* label of the link below, or NULL */
        const char *href;  /* relative to /api/v1/auth/confirm */
        const char *title; /* before " — <server name>" */
};

enum page {
        PAGE_ASK,
        PAGE_CONFIRMED,
        PAGE_INVALID,
        PAGE_EXPIRED,
        PAGE_MISSING,
        _PAGE_MAX,
};

/* The ?result= value that selects each result page. */
static const char *const page_results[_PAGE_MAX] = {
        [PAGE_CONFIRMED] = "confirmed",
        [PAGE_INVALID] = "invalid",
        [PAGE_EXPIRED] = "expired",
        [PAGE_MISSING] = "missing",
};

/* "../../../" leads from /api/v1/auth/confirm to the web UI's root, also
 * when the server sits below a path prefix. */
static const struct page_text texts_en[_PAGE_MAX] = {
        [PAGE_ASK] = {"Confirm your e-mail address",
                      "Press the button to confirm your e-mail address and activate your account.",
                      NULL, NULL, "Confirm e-mail"},
        [PAGE_CONFIRMED] = {"E-mail address confirmed",
                            "Your account is active. You can now sign in and pair your devices.",
                            "Sign in", "../../../login", "E-mail confirmed"},
        [PAGE_INVALID] = {"Link not valid",
                          "This confirmation link is invalid or has already been used.", "Home",
                          "../../../", "Link not valid"},
        [PAGE_EXPIRED] = {"Link expired",
                          "This confirmation link has expired. Ask the administrator of this "
                          "server to confirm your account.",
                          "Home", "../../../", "Link expired"},
        [PAGE_MISSING] = {"Link incomplete",
                          "The confirmation link is incomplete. Open the whole link from the "
                          "e-mail.",
                          "Home", "../../../", "Link incomplete"},
};

static const struct page_text texts_ru[_PAGE_MAX] = {
        [PAGE_ASK] = {"Подтверждение адреса электронной почты",
                      "Нажмите кнопку, чтобы подтвердить адрес и активировать учётную запись.",
                      NULL, NULL, "Подтверждение адреса"},
        [PAGE_CONFIRMED] = {"Адрес подтверждён",
                            "Учётная запись активна. Теперь можно войти и подключить устройства.",
                            "Войти", "../../../login", "Адрес подтверждён"},
        [PAGE_INVALID] = {"Ссылка недействительна",
                          "Ссылка подтверждения недействительна или уже использована.",
                          "На главную", "../../../", "Ссылка недействительна"},
        [PAGE_EXPIRED] = {"Срок действия ссылки истёк",
                          "Срок действия ссылки подтверждения истёк. Обратитесь к администратору "
                          "сервера, чтобы подтвердить учётную запись.",
                          "На главную", "../../../", "Срок действия ссылки истёк"},
        [PAGE_MISSING] = {"Ссылка неполная",
                          "Ссылка подтверждения неполная. Откройте ссылку из письма целиком.",
                          "На главную", "../../../", "Ссылка неполная"},
};

static const char *const button_text_en = "Confirm";
static const char *const button_text_ru = "Подтвердить";

/* HTML-escape s into a new string.  NULL on OOM. */
static char *html_escape(const char *s)
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

/* Build the page; token (48 hex, already checked) only for PAGE_ASK. */
static char *render(enum page p, const char *locale, const char *server_name, const char *token)
{
        bool ru = strcmp(locale, "ru") == 0;
        const struct page_text *t = ru ? &texts_ru[p] : &texts_en[p];
        _cleanup_free_ char *name = html_escape(server_name ? server_name : "");
        _cleanup_free_ char *action = NULL, *link = NULL;
        char *page = NULL;

        if (!name)
                return NULL;
        if (p == PAGE_ASK) {
                /* "confirm" is relative to this page: /…/api/v1/auth/confirm. */
                if (asprintf(&action,
                             "<form method=\"post\" action=\"confirm\">"
                             "<input type=\"hidden\" name=\"token\" value=\"%s\">"
                             "<button type=\"submit\">%s</button></form>",
                             token, ru ? button_text_ru : button_text_en) < 0)
                        return NULL;
        }
        if (t->link && asprintf(&link, "<p><a href=\"%s\">%s</a></p>", t->href, t->link) < 0)
                return NULL;
        if (asprintf(&page,
                     "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"robots\" content=\"noindex\">"
                     "<title>%s — %s</title></head><body><main><h1>%s</h1><p>%s</p>%s%s"
                     "</main></body></html>\n",
                     ru ? "ru" : "en", t->title, name, t->heading, t->text, action ? action : "",
                     link ? link : "") < 0)
                return NULL;
        return page;
}

static int reply_page(struct http_request *req, unsigned status, enum page p, const char *token)
{
        const char *locale = http_request_locale(req, req->app->config->web.default_locale);
        char *page = render(p, locale, req->app->config->web.server_name, token);
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
        /* The page holds a token: keep it out of caches. */
        return http_reply_response(req, status, resp, HTTP_REPLY_NO_STORE);
}

int api_auth_confirm_page(struct http_request *req)
{
        const char *result = http_query(req, "result");
        const char *token = http_query(req, "token");

        if (result && !token) {
                for (size_t i = 0; i < _PAGE_MAX; i++)
                        if (page_results[i] && strcmp(result, page_results[i]) == 0)
                                return reply_page(req, 200, (enum page)i, NULL);
                return reply_page(req, 400, PAGE_INVALID, NULL);
        }
        if (!token || !*token)
                return reply_page(req, 400, PAGE_MISSING, NULL);
        if (!hex_is_lower(token, TOKEN_EMAIL_HEX))
                return reply_page(req, 400, PAGE_INVALID, NULL);
        return reply_page(req, 200, PAGE_ASK, token);
}
