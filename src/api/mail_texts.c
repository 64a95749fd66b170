/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/mail_texts.h.  Templates hold @SERVER@, @USER@ and
 * @LINK@ markers that are replaced literally (never a printf format built
 * from data).  The lifetimes in the texts are MAIL_TEXT_*_HOURS.
 */
#include "api/mail_texts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

struct template
{
        const char *locale;
        enum mail_text text;
        const char *subject;
        const char *body;
};

static const struct template templates[] = {
        {"en", MAIL_TEXT_CONFIRM, "Confirm your e-mail address for @SERVER@",
         "Hello, @USER@!\n\n"
         "An account \"@USER@\" was created on @SERVER@ with this e-mail address.\n"
         "To confirm the address, open this link and press the button on the page:\n\n"
         "@LINK@\n\n"
         "The link is valid for 48 hours.\n\n"
         "If you did not create this account, ignore this message: without\n"
         "confirmation the account cannot be used.\n\n"
         "-- \n@SERVER@\n"},
        {"en", MAIL_TEXT_RESET, "Reset your password for @SERVER@",
         "Hello, @USER@!\n\n"
         "A password reset was requested for your account \"@USER@\" on @SERVER@.\n"
         "To choose a new password, open this link:\n\n"
         "@LINK@\n\n"
         "The link is valid for 1 hour and works once. Setting a new password signs\n"
         "you out of the web interface everywhere; paired devices keep syncing.\n\n"
         "If you did not ask for this, ignore this message: your password stays\n"
         "the same.\n\n"
         "-- \n@SERVER@\n"},
        {"en", MAIL_TEXT_TEST, "Test message from @SERVER@",
         "Hello!\n\n"
         "This is a test message sent by the administrator \"@USER@\" of @SERVER@\n"
         "(@LINK@) to check the e-mail settings.\n\n"
         "If it reached you, account e-mails (confirmation, password reset) will\n"
         "reach their recipients too. No reply is needed.\n\n"
         "-- \n@SERVER@\n"},
        {"ru", MAIL_TEXT_CONFIRM, "Подтвердите адрес электронной почты для @SERVER@",
         "Здравствуйте, @USER@!\n\n"
         "На @SERVER@ с этим адресом электронной почты создана учётная запись «@USER@».\n"
         "Чтобы подтвердить адрес, откройте ссылку и нажмите кнопку на странице:\n\n"
         "@LINK@\n\n"
         "Ссылка действительна 48 часов.\n\n"
         "Если вы не создавали эту учётную запись, просто проигнорируйте письмо:\n"
         "без подтверждения ею нельзя пользоваться.\n\n"
         "-- \n@SERVER@\n"},
        {"ru", MAIL_TEXT_RESET, "Сброс пароля для @SERVER@",
         "Здравствуйте, @USER@!\n\n"
         "Для вашей учётной записи «@USER@» на @SERVER@ запрошен сброс пароля.\n"
         "Чтобы задать новый пароль, откройте ссылку:\n\n"
         "@LINK@\n\n"
         "Ссылка действительна 1 час и срабатывает один раз. После смены пароля\n"
         "все входы в веб-интерфейс завершатся; подключённые устройства продолжат\n"
         "синхронизацию.\n\n"
         "Если вы не запрашивали сброс, проигнорируйте письмо: пароль останется\n"
         "прежним.\n\n"
         "-- \n@SERVER@\n"},
        {"ru", MAIL_TEXT_TEST, "Тестовое письмо от @SERVER@",
         "Здравствуйте!\n\n"
         "Это тестовое письмо: администратор «@USER@» сервера @SERVER@\n"
         "(@LINK@) проверяет настройки почты.\n\n"
         "Если оно дошло, письма учётных записей (подтверждение адреса, сброс\n"
         "пароля) тоже дойдут до получателей. Отвечать на него не нужно.\n\n"
         "-- \n@SERVER@\n"},
};

struct marker {
        const char *name;
        const char *value;
};

/* Write tmpl with every marker replaced by its value into out (when not
 * NULL; it must have room for the result and a NUL).  Returns the length. */
static size_t expand_into(char *out, const char *tmpl, const struct marker *m, size_t n)
{
        size_t len = 0;

        while (*tmpl) {
                const char *piece = tmpl;
                size_t piece_len = 1, skip = 1;
                for (size_t i = 0; i < n; i++) {
                        size_t name_len = strlen(m[i].name);
                        if (strncmp(tmpl, m[i].name, name_len) == 0) {
                                piece = m[i].value;
                                piece_len = strlen(piece);
                                skip = name_len;
                                break;
                        }
                }
                if (out)
                        memcpy(out + len, piece, piece_len);
                len += piece_len;
                tmpl += skip;
        }
        if (out)
                out[len] = '\0';
        return len;
}

/* A new copy of tmpl with the markers replaced.  NULL on OOM. */
static char *expand(const char *tmpl, const struct marker *m, size_t n)
{
        char *out = malloc(expand_into(NULL, tmpl, m, n) + 1);

        if (out)
                expand_into(out, tmpl, m, n);
        return out;
}

int mail_text_render(enum mail_text t, const char *locale, const char *server_name,
                     const char *username, const char *link, struct mail_message *ret)
{
        const struct marker markers[] = {
                {"@SERVER@", server_name ? server_name : ""},
                {"@USER@", username ? username : ""},
                {"@LINK@", link ? link : ""},
        };
        const struct template *tp = NULL;

        for (size_t i = 0; i < ELEMENTSOF(templates); i++) {
                if (templates[i].text != t)
                        continue;
                if (!tp)
                        tp = &templates[i]; /* English comes first */
                if (locale && strcmp(templates[i].locale, locale) == 0) {
                        tp = &templates[i];
                        break;
                }
        }
        if (!tp)
                return -EINVAL;

        struct mail_message m = {
                .subject = expand(tp->subject, markers, ELEMENTSOF(markers)),
                .body = expand(tp->body, markers, ELEMENTSOF(markers)),
        };
        if (!m.subject || !m.body) {
                mail_message_done(&m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

void mail_message_done(struct mail_message *m)
{
        if (!m)
                return;
        free(m->subject);
        free(m->body);
        m->subject = m->body = NULL;
}
