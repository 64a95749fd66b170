/* SPDX-License-Identifier: MIT */
/*
 * @brief The administrator's JSON endpoints under /admin/api/ (api.md §8):
 * login, logout and "who am I" with an admin session (separate from sync
 * users: table server_admins, session scope 'admin', cookies on
 * Path=/admin), the read-only view of the SMTP settings and the test
 * e-mail sent through the mail helper.  SQL lives in store/, sessions and
 * CSRF in auth/session.  Passwords, tokens and the SMTP password (which
 * only the mail helper ever reads) are never logged or returned.
 */
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_common.h"
#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/mail_texts.h"
#include "auth/password.h"
#include "auth/session.h"
#include "http/locale.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/text.h"
#include "util/workq.h"

/* Field limits, in bytes. */
#define ADMIN_USERNAME_MAX 256
#define ADMIN_PASSWORD_MAX 256

/* How long the test e-mail waits for the mail helper's verdict before
 * answering 502.  Below MAIL_CLIENT_REPLY_TIMEOUT_MS: an operator should
 * hear back while still looking at the page; the default SMTP timeout
 * (30 s) is for slow servers that a test should expose anyway. */
#define ADMIN_TEST_MAIL_WAIT_MS 20000

#define log_admin admin_log

/* The admin session the request presents and its administrator's name
 * (malloc'd into *ret_username): admin_begin() without the CSRF check. */
static int admin_auth(struct http_request *req, struct session *s, char **ret_username)
{
        struct admin_ctx a = {0};
        int r = admin_begin(req, false, &a);

        if (r == 0) {
                *s = a.session;
                *ret_username = a.username;
        }
        return r;
}

/* --- login, logout, me --------------------------------------------------- */

/* Whether username/password name an administrator; its id goes to
 * ret_id.  Unknown names cost the time of a real check; a bcrypt hash is
 * rehashed to Argon2id.  1, 0, or a negative errno. */
static int admin_check(struct http_request *req, const char *username, const char *password,
                       char **ret_id)
{
        _cleanup_free_ char *id = NULL, *hash = NULL;
        bool rehash = false;
        int r;

        r = store_admin_get(api_app(req)->store, username, &id, &hash);
        if (r == -ENOENT) {
                r = password_fail_equalise(password, NULL, api_app(req)->legacy_bcrypt_cost);
                return r < 0 ? r : 0;
        }
        if (r < 0)
                return r;
        r = password_verify(password, hash, &rehash);
        if (r == -EAGAIN)
                return r;
        if (r < 0)
                log_warning("Administrator %s has a password hash of an unknown format", id);
        if (r <= 0) {
                r = password_fail_equalise(password, hash, api_app(req)->legacy_bcrypt_cost);
                return r < 0 ? r : 0;
        }
        if (rehash) {
                char fresh[PASSWORD_HASH_MAX];
                if (password_hash(password, fresh) == 0 &&
                    store_admin_set_password_hash(api_app(req)->store, id, fresh) == 0)
                        log_info("Rehashed the password of administrator %s with Argon2id", id);
                sodium_memzero(fresh, sizeof(fresh));
        }
        *ret_id = TAKE_PTR(id);
        return 1;
}

int api_admin_login(struct http_request *req)
{
        _cleanup_(api_login_done) struct api_login in = {0};
        _cleanup_free_ char *id = NULL;
        struct session_secrets sec;
        int r;

        r = api_login_request(req, ADMIN_USERNAME_MAX, ADMIN_PASSWORD_MAX, &in);
        if (r != 0)
                return api_answered(r);

        r = admin_check(req, in.username, in.password, &id);
        if (r < 0)
                return api_reply_internal(req, r);
        if (r == 0) {
                req->log_event = "admin_login_failed";
                api_audit(req, "admin_login_failed", NULL, NULL, "invalid credentials");
                return api_error(req, API_ERR_UNAUTHORIZED, "invalid credentials");
        }

        r = session_rotate(req, api_app(req)->store, &session_kind_admin, id, &sec);
        if (r < 0)
                return api_reply_internal(req, r);
        req->log_event = "admin_login";
        if (store_console_admin_login(api_app(req)->store, id) < 0)
                log_warning("Cannot record the login time of administrator %s", id);
        api_audit(req, "admin_login", NULL, NULL, "administrator signed in");
        log_admin(LOG_NOTICE, "admin_login", in.username, "signed in");

        r = api_reply_session(req, &session_kind_admin,
                              json_pack("{s:s,s:s}", "status", "ok", "username", in.username),
                              &sec);
        session_secrets_wipe(&sec);
        return r;
}

int api_admin_logout(struct http_request *req)
{
        _cleanup_free_ char *username = NULL;
        struct session s;
        int r;

        r = session_from_request(req, api_app(req)->store, &session_kind_admin, &s);
        if (r == 0) {
                r = api_session_csrf(req, &s, NULL);
                if (r != 0)
                        return api_answered(r);
                req->log_event = "admin_logout";
                (void)store_admin_username(api_app(req)->store, s.subject_id, &username);
                r = session_end(api_app(req)->store, &s);
                if (r < 0)
                        return api_reply_internal(req, r);
                api_audit(req, "admin_logout", NULL, NULL, "administrator signed out");
                log_admin(LOG_INFO, "admin_logout", username ? username : "?", "signed out");
        } else if (r != -ENOENT && r != -EKEYREJECTED && r != -EKEYEXPIRED)
                return api_reply_internal(req, r);

        /* Signed out either way: the cookies go too. */
        return api_reply_session(req, &session_kind_admin,
                                 json_pack("{s:s}", "status", "logged out"), NULL);
}

int api_admin_me(struct http_request *req)
{
        _cleanup_free_ char *username = NULL;
        struct session s;
        int r = admin_auth(req, &s, &username);

        if (r != 0)
                return api_answered(r);
        return http_reply_json(req, 200,
                               json_pack("{s:s,s:b}", "username", username, "public_url_set",
                                         api_app(req)->config->public_url != NULL),
                               HTTP_REPLY_NO_STORE);
}

/* --- SMTP settings -------------------------------------------------------- */

/* A string, or JSON null when unset. */
static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

int api_admin_smtp(struct http_request *req)
{
        const struct config *c = api_app(req)->config;
        _cleanup_free_ char *username = NULL;
        struct session s;
        int r = admin_auth(req, &s, &username);

        if (r != 0)
                return api_answered(r);
        /* Never the password, nor where it is kept: only whether it is,
         * and where each value came from. */
        const struct smtp_sources *src = &api_app(req)->smtp_sources;
        const char *delivery = src->delivery ? src->delivery : SMTP_SOURCE_DEFAULT;
        json_t *body = json_pack(
                "{s:s,s:o,s:i,s:s,s:o,s:b,s:b,s:o,s:I,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "delivery",
                c->smtp.host ? "smtp" : "outbox", "host", string_or_null(c->smtp.host), "port",
                (int)c->smtp.port, "security", smtp_security_to_string(c->smtp.security), "from",
                string_or_null(c->smtp.from), "username_set",
                c->smtp.username && c->smtp.username[0], "password_configured",
                c->smtp.password_file != NULL ||
                        (src->password && strcmp(src->password, SMTP_SOURCE_DEFAULT)),
                "public_url", string_or_null(c->public_url), "timeout_seconds",
                (json_int_t)c->smtp.timeout_seconds, "sources", "host", delivery, "port", delivery,
                "security", delivery, "from", delivery, "username", delivery, "password",
                src->password ? src->password : SMTP_SOURCE_DEFAULT, "public_url",
                src->public_url ? src->public_url : SMTP_SOURCE_DEFAULT);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

/* One test e-mail on its way to the mail helper.  Shared by the request,
 * which waits for the verdict, and the background worker, which sends;
 * whoever lets go last frees it (the request may stop waiting first). */
struct test_mail {
        atomic_int refs;
        struct app *app;
        struct mail_message m;
        char to[EMAIL_MAX + 1];
        int result;
        char err[256];
};

static void test_mail_unref(void *data)
{
        struct test_mail *t = data;

        if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
                return;
        mail_message_done(&t->m);
        free(t);
}

static void test_mail_run(void *data)
{
        struct test_mail *t = data;

        t->result = api_mail_send(t->app, t->to, t->m.subject, t->m.body, t->err, sizeof(t->err));
}

/* Send the test message and wait for the verdict.  0, or a negative errno
 * with a reason in err. */
static int test_mail_send(struct http_request *req, const char *to, const char *admin, char *err,
                          size_t err_size)
{
        struct app *app = api_app(req);
        const char *locale = http_request_locale(req, app->config->web.default_locale);
        char base[512] = "";
        struct test_mail *t;
        int r;

        /* Without public_url and a loopback Host, the text names no link. */
        if (api_link_base(req, base, sizeof(base)) < 0)
                base[0] = '\0';
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        atomic_init(&t->refs, 2); /* the request and the worker */
        t->app = app;
        snprintf(t->to, sizeof(t->to), "%s", to);
        r = mail_text_render(MAIL_TEXT_TEST, locale, app->config->web.server_name, admin, base,
                             &t->m);
        if (r < 0) {
                free(t);
                return r;
        }
        r = workq_submit_wait(app->background, test_mail_run, test_mail_unref, t,
                              ADMIN_TEST_MAIL_WAIT_MS);
        if (r == 0) {
                r = t->result;
                snprintf(err, err_size, "%s", t->err);
        } else if (r == -ETIMEDOUT)
                snprintf(err, err_size, "the mail helper did not answer within %d seconds",
                         ADMIN_TEST_MAIL_WAIT_MS / 1000);
        else {
                snprintf(err, err_size, "the mail queue is busy");
                /* Not queued: the worker's reference is ours; the last
                 * one is dropped below. */
                atomic_fetch_sub(&t->refs, 1);
        }
        test_mail_unref(t);
        return r;
}

int api_admin_smtp_test(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *username = NULL;
        const char *to_in = NULL;
        const struct body_field fields[] = {
                {"to", BODY_STRING, &to_in, .flags = BODY_NOT_BLANK},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .missing = "to required"};
        char to[EMAIL_MAX + 1], err[256] = "", message[320];
        struct session s;
        int r;

        r = admin_auth(req, &s, &username);
        if (r != 0)
                return api_answered(r);
        r = api_session_csrf(req, &s, NULL);
        if (r != 0)
                return api_answered(r);
        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        if (email_normalize(to_in, to) < 0)
                return api_error(req, API_ERR_INVALID_REQUEST, "invalid email");
        r = api_rate_limit(req, RL_SMTP_TEST, username);
        if (r != 0)
                return api_answered(r);

        req->log_event = "smtp_test";
        r = test_mail_send(req, to, username, err, sizeof(err));
        if (r == 0) {
                api_audit(req, "smtp_test", NULL, NULL, "test e-mail sent");
                log_admin(LOG_NOTICE, "smtp_test", username, "test e-mail sent");
                return http_reply_json(req, 200, json_pack("{s:s}", "status", "sent"), 0);
        }
        atomic_fetch_add_explicit(&api_app(req)->mail_failures, 1, memory_order_relaxed);
        snprintf(message, sizeof(message), "test e-mail not sent: %s",
                 err[0] ? err : "the mail helper refused it");
        api_audit(req, "smtp_test", NULL, NULL, message);
        log_admin(LOG_WARNING, "smtp_test", username, message);
        return api_error(req, API_ERR_MAIL_FAILED, message);
}
