/* SPDX-License-Identifier: MIT */
/*
 * @brief GET /api/v1/auth/confirm (api.md §6): the page behind the link in
 * the confirmation e-mail.  It only shows a button (a form POSTing the
 * token back), so a link scanner that follows the link confirms nothing;
 * with ?result=… it shows how the confirmation went.  English or Russian,
 * laid out by api/html_page.c.  No database access here: only the POST
 * confirms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "api/handlers.h"
#include "api/html_page.h"
#include "http/locale.h"
#include "util/cleanup.h"

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

static const struct html_page texts_en[_PAGE_MAX] = {
        [PAGE_ASK] = {"Confirm e-mail", "Confirm your e-mail address",
                      "Press the button to confirm your e-mail address and activate your account.",
                      NULL},
        [PAGE_CONFIRMED] = {"E-mail confirmed", "E-mail address confirmed",
                            "Your account is active. You can now sign in and pair your devices.",
                            NULL, "login", "Sign in"},
        [PAGE_INVALID] = {"Link not valid", "Link not valid",
                          "This confirmation link is invalid or has already been used.", NULL},
        [PAGE_EXPIRED] = {"Link expired", "Link expired",
                          "This confirmation link has expired. Ask the administrator of this "
                          "server to confirm your account.",
                          NULL},
        [PAGE_MISSING] = {"Link incomplete", "Link incomplete",
                          "The confirmation link is incomplete. Open the whole link from the "
                          "e-mail.",
                          NULL},
};

static const struct html_page texts_ru[_PAGE_MAX] = {
        [PAGE_ASK] = {"Подтверждение адреса", "Подтверждение адреса электронной почты",
                      "Нажмите кнопку, чтобы подтвердить адрес и активировать учётную запись.",
                      NULL},
        [PAGE_CONFIRMED] = {"Адрес подтверждён", "Адрес подтверждён",
                            "Учётная запись активна. Теперь можно войти и подключить устройства.",
                            NULL, "login", "Войти"},
        [PAGE_INVALID] = {"Ссылка недействительна", "Ссылка недействительна",
                          "Ссылка подтверждения недействительна или уже использована.", NULL},
        [PAGE_EXPIRED] = {"Срок действия ссылки истёк", "Срок действия ссылки истёк",
                          "Срок действия ссылки подтверждения истёк. Обратитесь к администратору "
                          "сервера, чтобы подтвердить учётную запись.",
                          NULL},
        [PAGE_MISSING] = {"Ссылка неполная", "Ссылка неполная",
                          "Ссылка подтверждения неполная. Откройте ссылку из письма целиком.",
                          NULL},
};

static const char *const button_text_en = "Confirm";
static const char *const button_text_ru = "Подтвердить";

/* token (48 hex, already checked) only for PAGE_ASK. */
static int reply_page(struct http_request *req, unsigned status, enum page p, const char *token)
{
        const char *locale = http_request_locale(req, api_app(req)->config->web.default_locale);
        bool ru = strcmp(locale, "ru") == 0;
        struct html_page page = ru ? texts_ru[p] : texts_en[p];
        _cleanup_free_ char *form = NULL;

        if (p == PAGE_ASK) {
                /* "confirm" is relative to this page: /…/api/v1/auth/confirm. */
                if (asprintf(&form,
                             "<form method=\"post\" action=\"confirm\">"
                             "<input type=\"hidden\" name=\"token\" value=\"%s\">"
                             "<button type=\"submit\">%s</button></form>",
                             token, ru ? button_text_ru : button_text_en) < 0)
                        return -ENOMEM;
                page.form = form;
        }
        /* The page is /api/v1/auth/confirm: the web UI is three levels up. */
        return html_page_reply(req, status, locale, "../../../", &page);
}

int api_auth_confirm_page(struct http_request *req)
{
        const char *token = NULL;
        size_t i = 0;

        switch (html_page_classify_link(req, page_results, _PAGE_MAX, &i, &token)) {
        case HTML_LINK_RESULT:
                return reply_page(req, 200, (enum page)i, NULL);
        case HTML_LINK_MISSING:
                return reply_page(req, 400, PAGE_MISSING, NULL);
        case HTML_LINK_TOKEN:
                return reply_page(req, 200, PAGE_ASK, token);
        default:
                return reply_page(req, 400, PAGE_INVALID, NULL);
        }
}
