/* SPDX-License-Identifier: MIT */
/*
 * @brief GET and POST /reset (api.md §6): the page behind the link in the
 * password-reset e-mail.  GET shows a form (new password, twice) holding
 * the token in a hidden field, or with ?result=… how the reset went; the
 * form's POST runs the reset of POST /api/v1/auth/reset
 * (api_reset_password()) and redirects (303) to the result page.  English
 * or Russian, laid out by api/html_page.c.  The token appears in the form
 * and nowhere else; it is never logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/html_page.h"
#include "http/locale.h"
#include "util/cleanup.h"
#include "util/text.h"

/* Form field names. */
#define RESET_FIELD_TOKEN    "token"
#define RESET_FIELD_PASSWORD "new_password"
#define RESET_FIELD_REPEAT   "new_password_repeat"

enum page {
        PAGE_FORM,
        PAGE_OK,
        PAGE_EXPIRED,
        PAGE_INVALID,
        PAGE_MISMATCH,
        PAGE_TOO_SHORT,
        PAGE_TOO_LONG,
        PAGE_MISSING,
        _PAGE_MAX,
};

/* The ?result= value that selects each result page. */
static const char *const page_results[_PAGE_MAX] = {
        [PAGE_OK] = "ok",
        [PAGE_EXPIRED] = "expired",
        [PAGE_INVALID] = "invalid",
        [PAGE_MISMATCH] = "mismatch",
        [PAGE_TOO_SHORT] = "too_short",
        [PAGE_TOO_LONG] = "too_long",
};

static const struct html_page texts_en[_PAGE_MAX] = {
        [PAGE_FORM] = {"New password", "Choose a new password",
                       "Enter the new password twice. It must be 8 to 256 characters long. "
                       "Setting it signs you out of the web interface everywhere; paired "
                       "devices keep syncing.",
                       NULL},
        [PAGE_OK] = {"Password changed", "Password changed",
                     "Your new password is set. Sign in with it from now on.", NULL, "login",
                     "Sign in"},
        [PAGE_EXPIRED] = {"Link expired", "Link expired",
                          "This password reset link has expired. Ask for a new one.", NULL,
                          "forgot", "Ask for a new link"},
        [PAGE_INVALID] = {"Link not valid", "Link not valid",
                          "This password reset link is invalid or has already been used.", NULL},
        [PAGE_MISMATCH] = {"Passwords differ", "The passwords do not match",
                           "Go back and enter the same new password in both fields.", NULL},
        [PAGE_TOO_SHORT] = {"Password too short", "The password is too short",
                            "Go back and choose a password of at least 8 characters.", NULL},
        [PAGE_TOO_LONG] = {"Password too long", "The password is too long",
                           "Go back and choose a password of at most 256 characters.", NULL},
        [PAGE_MISSING] = {"Link incomplete", "Link incomplete",
                          "The password reset link is incomplete. Open the whole link from the "
                          "e-mail.",
                          NULL},
};

static const struct html_page texts_ru[_PAGE_MAX] = {
        [PAGE_FORM] = {"Новый пароль", "Задайте новый пароль",
                       "Введите новый пароль дважды, от 8 до 256 символов. После смены пароля "
                       "все входы в веб-интерфейс завершатся; подключённые устройства "
                       "продолжат синхронизацию.",
                       NULL},
        [PAGE_OK] = {"Пароль изменён", "Пароль изменён",
                     "Новый пароль установлен. Теперь входите с ним.", NULL, "login", "Войти"},
        [PAGE_EXPIRED] = {"Срок действия ссылки истёк", "Срок действия ссылки истёк",
                          "Срок действия ссылки для сброса пароля истёк. Запросите новую.", NULL,
                          "forgot", "Запросить новую ссылку"},
        [PAGE_INVALID] = {"Ссылка недействительна", "Ссылка недействительна",
                          "Ссылка для сброса пароля недействительна или уже использована.", NULL},
        [PAGE_MISMATCH] = {"Пароли не совпадают", "Пароли не совпадают",
                           "Вернитесь назад и введите один и тот же пароль в оба поля.", NULL},
        [PAGE_TOO_SHORT] = {"Пароль слишком короткий", "Пароль слишком короткий",
                            "Вернитесь назад и выберите пароль не короче 8 символов.", NULL},
        [PAGE_TOO_LONG] = {"Пароль слишком длинный", "Пароль слишком длинный",
                           "Вернитесь назад и выберите пароль не длиннее 256 символов.", NULL},
        [PAGE_MISSING] = {"Ссылка неполная", "Ссылка неполная",
                          "Ссылка для сброса пароля неполная. Откройте ссылку из письма целиком.",
                          NULL},
};

/* Labels of the form: new password, repeat, button. */
static const char *const labels_en[3] = {"New password", "Repeat the new password", "Set password"};
static const char *const labels_ru[3] = {"Новый пароль", "Повторите новый пароль",
                                         "Сменить пароль"};

/* token (48 hex, already checked) only for PAGE_FORM. */
static int reply_page(struct http_request *req, unsigned status, enum page p, const char *token)
{
        const char *locale = http_request_locale(req, api_app(req)->config->web.default_locale);
        bool ru = strcmp(locale, "ru") == 0;
        const char *const *l = ru ? labels_ru : labels_en;
        struct html_page page = ru ? texts_ru[p] : texts_en[p];
        _cleanup_free_ char *form = NULL;

        if (p == PAGE_FORM) {
                /* "reset" is relative to this page, so a path prefix works. */
                if (asprintf(&form,
                             "<form method=\"post\" action=\"reset\">"
                             "<input type=\"hidden\" name=\"" RESET_FIELD_TOKEN "\" value=\"%s\">"
                             "<div class=\"field\"><label for=\"np\">%s</label>"
                             "<input type=\"password\" id=\"np\" name=\"" RESET_FIELD_PASSWORD
                             "\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"256\""
                             " required></div>"
                             "<div class=\"field\"><label for=\"npr\">%s</label>"
                             "<input type=\"password\" id=\"npr\" name=\"" RESET_FIELD_REPEAT
                             "\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"256\""
                             " required></div>"
                             "<div class=\"actions\"><button type=\"submit\">%s</button></div>"
                             "</form>",
                             token, l[0], l[1], l[2]) < 0)
                        return -ENOMEM;
                page.form = form;
        }
        return html_page_reply(req, status, locale, "./", &page);
}

int api_reset_page(struct http_request *req)
{
        const char *token = NULL;
        size_t i = 0;

        switch (html_page_classify_link(req, page_results, _PAGE_MAX, &i, &token)) {
        case HTML_LINK_RESULT:
                return reply_page(req, 200, (enum page)i, NULL);
        case HTML_LINK_MISSING:
                return reply_page(req, 400, PAGE_MISSING, NULL);
        case HTML_LINK_TOKEN:
                return reply_page(req, 200, PAGE_FORM, token);
        default:
                return reply_page(req, 400, PAGE_INVALID, NULL);
        }
}

/* 303 to the result page. */
static int redirect_result(struct http_request *req, enum page p)
{
        char location[64];
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);

        if (!resp)
                return -ENOMEM;
        /* Relative to /reset, so it works under a path prefix. */
        snprintf(location, sizeof(location), "reset?result=%s", page_results[p]);
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        return http_reply_response(req, 303, resp, HTTP_REPLY_NO_STORE);
}

int api_reset_submit(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *token = NULL, *password = NULL, *repeat = NULL;
        const struct body_field fields[] = {
                {RESET_FIELD_TOKEN, BODY_STRING, &token, NULL},
                {RESET_FIELD_PASSWORD, BODY_STRING, &password, NULL},
                {RESET_FIELD_REPEAT, BODY_STRING, &repeat, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .form = true};
        int r;

        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        if (str_is_blank(token))
                return redirect_result(req, PAGE_INVALID);
        if (!password || !password[0])
                return redirect_result(req, PAGE_TOO_SHORT);
        r = api_rate_limit(req, RL_RESET, NULL);
        if (r != 0)
                return api_answered(r);
        if (!repeat || strcmp(password, repeat) != 0)
                return redirect_result(req, PAGE_MISMATCH);

        r = api_reset_password(req, token, password);
        switch (r) {
        case API_RESET_OK:
                return redirect_result(req, PAGE_OK);
        case API_RESET_TOO_SHORT:
                return redirect_result(req, PAGE_TOO_SHORT);
        case API_RESET_TOO_LONG:
                return redirect_result(req, PAGE_TOO_LONG);
        case API_RESET_INVALID:
                return redirect_result(req, PAGE_INVALID);
        case API_RESET_EXPIRED:
                return redirect_result(req, PAGE_EXPIRED);
        default:
                return api_reply_internal(req, r);
        }
}
