/* SPDX-License-Identifier: MIT */
/*
 * @brief Account endpoints (api.md §6): register, confirm (POST), login,
 * logout, forgot and reset.  Validation and the order of checks live here;
 * SQL lives in store/, sessions and CSRF in auth/session, texts in
 * api/mail_texts, the confirmation page in api/confirm_page.c.  Tokens and
 * passwords are never logged.
 */
#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/mail_texts.h"
#include "auth/password.h"
#include "auth/session.h"
#include "auth/token.h"
#include "http/locale.h"
#include "mailer/mail_client.h"
#include "store/store_accounts.h"
#include "store/store_console.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/text.h"
#include "util/workq.h"

/* Field limits, in bytes. */
#define ACCOUNT_LOGIN_MAX 320 /* a username or an e-mail address */

/* E-mail token lifetimes (api.md §6), as the e-mail texts state them. */
#define CONFIRM_TOKEN_SECONDS (MAIL_TEXT_CONFIRM_HOURS * 3600)
#define RESET_TOKEN_SECONDS   (MAIL_TEXT_RESET_HOURS * 3600)
_Static_assert(CONFIRM_TOKEN_SECONDS == 48 * 3600, "api.md §6: confirmation links last 48 h");
_Static_assert(RESET_TOKEN_SECONDS == 3600, "api.md §6: reset links last 1 h");

/* Longest link base (public_url or the request's origin) we build on. */
#define ACCOUNT_LINK_BASE_MAX 512

/* How long registration waits for the mail helper to take the
 * confirmation e-mail before answering anyway; the message still goes
 * out.  Writing to the outbox or a nearby relay takes far less. */
#define ACCOUNT_MAIL_WAIT_MS 3000

static int bad_request(struct http_request *req, const char *message)
{
        return api_error(req, API_ERR_INVALID_REQUEST, message);
}

/* --- e-mail ------------------------------------------------------------- */

/* One account e-mail on its way to the mail helper.  Sending happens on
 * the background worker, because the helper answers only once the message
 * is delivered (SMTP can take its time). */
struct mail_job {
        struct app *app;
        enum mail_text text;
        const char *locale; /* a static string */
        char user_id[64];
        char to[EMAIL_MAX + 1];
        char username[256];
        char link[ACCOUNT_LINK_BASE_MAX + 64]; /* holds the token */
};

static struct mail_job *mail_job_new(struct app *app, enum mail_text t, const char *user_id,
                                     const char *to, const char *username, const char *locale,
                                     const char *base, const char *token)
{
        struct mail_job *j = calloc(1, sizeof(*j));
        int n;

        if (!j)
                return NULL;
        n = snprintf(
                j->link, sizeof(j->link), "%s%s%s", base,
                t == MAIL_TEXT_CONFIRM ? "/api/v1/auth/confirm?token=" : "/reset?token=", token);
        if (n < 0 || (size_t)n >= sizeof(j->link)) {
                free(j);
                return NULL;
        }
        j->app = app;
        j->text = t;
        j->locale = locale;
        snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
        snprintf(j->to, sizeof(j->to), "%s", to);
        snprintf(j->username, sizeof(j->username), "%s", username);
        return j;
}

static void mail_job_free(void *data)
{
        if (!data)
                return;
        sodium_memzero(data, sizeof(struct mail_job));
        free(data);
}

/* Render the job's e-mail and hand it to the mail helper.  A failure is
 * logged (user id and reason; never the address, link or body) and
 * counted in app->mail_failures; it never changes an answer. */
static void mail_job_send(struct mail_job *j)
{
        struct app *app = j->app;
        struct mail_message m = {0};
        char err[256] = "";
        int r;

        r = mail_text_render(j->text, j->locale, app->config->web.server_name, j->username, j->link,
                             &m);
        if (r >= 0)
                r = api_mail_send(app, j->to, m.subject, m.body, err, sizeof(err));
        if (r < 0) {
                atomic_fetch_add_explicit(&app->mail_failures, 1, memory_order_relaxed);
                struct log_field f[] = {
                        {"MESSAGE_ID", LOG_MID_MAIL_FAILED},
                        {"EVENT", "mail_failed"},
                        {"USER_ID", j->user_id},
                };
                log_struct(LOG_WARNING, f, "Cannot send the %s e-mail for user %s: %s",
                           j->text == MAIL_TEXT_CONFIRM ? "confirmation" : "password reset",
                           j->user_id, err[0] ? err : strerror(-r));
        }
        if (m.body)
                sodium_memzero(m.body, strlen(m.body));
        mail_message_done(&m);
}

static void mail_job_run(void *data)
{
        mail_job_send(data);
}

/* Queue j (which the queue then owns) and wait up to wait_ms for the
 * helper's verdict.  A job that cannot be queued is a mail failure. */
static void mail_job_submit(struct mail_job *j, unsigned wait_ms)
{
        struct app *app = j->app;
        char user_id[64];
        int r;

        snprintf(user_id, sizeof(user_id), "%s", j->user_id);
        r = workq_submit_wait(app->background, mail_job_run, mail_job_free, j, wait_ms);
        if (r == -ETIMEDOUT)
                log_info("The e-mail for user %s is still being sent; answering now", user_id);
        else if (r < 0) {
                mail_job_free(j);
                atomic_fetch_add_explicit(&app->mail_failures, 1, memory_order_relaxed);
                log_warning_errno(r, "Cannot queue the e-mail for user %s: %m", user_id);
        }
}

/* --- register ------------------------------------------------------------ */

/* Whether invitation (a token from the console) admits the holder of
 * email: unused, unexpired, and bound to no address or to this one.  Its
 * hash goes to ret_hash; it is used up with the account's creation.  0,
 * or BODY_ANSWERED after 403 invitation_invalid / invitation_expired /
 * invitation_email_mismatch. */
static int check_invitation(struct http_request *req, const char *invitation, const char *email,
                            char ret_hash[TOKEN_SHA256_HEX + 1])
{
        _cleanup_free_ char *bound = NULL;
        int r;

        if (strlen(invitation) > TOKEN_SECRET_HEX * 2)
                return api_error_answered(req, API_ERR_INVITATION_INVALID,
                                          "invitation unknown or already used");
        token_sha256_hex(invitation, strlen(invitation), ret_hash);
        r = store_invitation_check(api_app(req)->store, ret_hash, time(NULL), &bound);
        if (r == -ENOENT)
                return api_error_answered(req, API_ERR_INVITATION_INVALID,
                                          "invitation unknown or already used");
        if (r == -ETIME)
                return api_error_answered(req, API_ERR_INVITATION_EXPIRED, "invitation expired");
        if (r < 0)
                return r;
        if (bound && strcmp(bound, email) != 0)
                return api_error_answered(req, API_ERR_INVITATION_EMAIL_MISMATCH,
                                          "this invitation is for another e-mail address");
        return 0;
}

int api_auth_register(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_json_ json_t *root = NULL;
        const char *username = NULL, *email_in = NULL, *password = NULL, *invitation = NULL;
        const struct body_field fields[] = {
                {"username", BODY_STRING, &username, .flags = BODY_NOT_BLANK},
                {"email", BODY_STRING, &email_in, .flags = BODY_NOT_BLANK},
                {"password", BODY_STRING, &password, .flags = BODY_REQUIRED},
                {"invitation", BODY_STRING, &invitation},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing = "username, email and password required"};
        char name[ACCOUNT_USERNAME_MAX + 1], email[EMAIL_MAX + 1];
        char hash[PASSWORD_HASH_MAX], id[TOKEN_USER_ID_HEX + 1];
        char token[TOKEN_EMAIL_HEX + 1], token_hash[TOKEN_SHA256_HEX + 1];
        char expires[TIME_RFC3339_SIZE], base[ACCOUNT_LINK_BASE_MAX];
        char invitation_hash[TOKEN_SHA256_HEX + 1];
        enum store_account_taken taken = STORE_TAKEN_NONE;
        const char *locale;
        int r;

        /* Closed registration admits only the holder of an invitation
         * (created in the admin console; checked below). */
        r = api_fields_parse(req, &spec, &root);
        if (r != 0 && !app->config->web.allow_registration)
                return api_error(req, API_ERR_REGISTRATION_DISABLED, "registration is disabled");
        if (r != 0)
                return api_answered(r);
        if (str_is_blank(invitation))
                invitation = NULL;
        if (!app->config->web.allow_registration && !invitation)
                return api_error(req, API_ERR_REGISTRATION_DISABLED, "registration is disabled");
        r = api_rate_limit(req, RL_REGISTER, email_in);
        if (r != 0)
                return api_answered(r);
        if (api_username_normalize(username, name) < 0)
                return bad_request(req, "invalid username");
        if (email_normalize(email_in, email) < 0)
                return bad_request(req, "invalid email");
        r = api_check_new_password(req, password);
        if (r != 0)
                return api_answered(r);
        if (invitation) {
                r = check_invitation(req, invitation, email, invitation_hash);
                if (r != 0)
                        return api_answered(r);
        }
        r = api_link_base(req, base, sizeof(base));
        if (r == -EADDRNOTAVAIL)
                return api_reply_public_url_required(req);
        if (r < 0)
                return bad_request(req, "invalid Host header");

        r = password_hash(password, hash);
        if (r < 0)
                return api_reply_internal(req, r);
        locale = http_request_locale(req, app->config->web.default_locale);
        token_random_hex(id, TOKEN_USER_ID_HEX);
        token_random_hex(token, TOKEN_EMAIL_HEX);
        token_sha256_hex(token, strlen(token), token_hash);
        time_format_rfc3339(time(NULL) + CONFIRM_TOKEN_SECONDS, expires);

        struct store_account_new a = {
                .id = id,
                .username = name,
                .email = email,
                .password_hash = hash,
                .locale = locale,
                .confirm_token_hash = token_hash,
                .confirm_expires_at = expires,
                .invitation_hash = invitation ? invitation_hash : NULL,
        };
        r = store_account_create(app->store, &a, &taken);
        sodium_memzero(hash, sizeof(hash));
        if (r == -EEXIST) {
                sodium_memzero(token, sizeof(token));
                return api_error(req, API_ERR_CONFLICT,
                                 taken == STORE_TAKEN_EMAIL ? "email already registered"
                                                            : "username already taken");
        }
        if (r == -ESTALE) {
                sodium_memzero(token, sizeof(token));
                return api_error(req, API_ERR_INVITATION_INVALID,
                                 "invitation unknown or already used");
        }
        if (r < 0) {
                sodium_memzero(token, sizeof(token));
                return api_reply_internal(req, r);
        }

        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", id);
        req->log_event = "user_registered";
        api_audit(req, "user_registered", id, NULL, "account registered");
        struct mail_job *mj =
                mail_job_new(app, MAIL_TEXT_CONFIRM, id, email, name, locale, base, token);
        sodium_memzero(token, sizeof(token));
        if (mj)
                mail_job_submit(mj, ACCOUNT_MAIL_WAIT_MS);
        else {
                atomic_fetch_add_explicit(&app->mail_failures, 1, memory_order_relaxed);
                log_oom();
        }
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "confirmation_sent"), 0);
}

/* --- confirm ------------------------------------------------------------- */

/* Answer a confirmation outcome: JSON for API clients, a 303 to the
 * result page for a browser form. */
static int confirm_answer(struct http_request *req, bool form, unsigned status, const char *message,
                          const char *result)
{
        if (!form)
                return status == 200 ? http_reply_json(req, 200,
                                                       json_pack("{s:s}", "status", "confirmed"), 0)
                                     : bad_request(req, message);

        char location[64];
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return -ENOMEM;
        /* Relative to /api/v1/auth/confirm, so it works under a path prefix. */
        snprintf(location, sizeof(location), "confirm?result=%s", result);
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location) != MHD_YES) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        return http_reply_response(req, 303, resp, HTTP_REPLY_NO_STORE);
}

int api_auth_confirm(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *user_id = NULL;
        const char *token = NULL;
        const struct body_field fields[] = {
                {"token", BODY_STRING, &token, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .form = true};
        char hash[TOKEN_SHA256_HEX + 1];
        bool form = body_is_form(req);
        int r;

        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        if (str_is_blank(token))
                return confirm_answer(req, form, 400, "token required", "missing");
        if (!hex_is_lower(token, TOKEN_EMAIL_HEX))
                return confirm_answer(req, form, 400, "invalid or expired token", "invalid");

        token_sha256_hex(token, strlen(token), hash);
        r = store_account_confirm(api_app(req)->store, hash, time(NULL), &user_id);
        if (r == -ENOENT)
                return confirm_answer(req, form, 400, "invalid or expired token", "invalid");
        if (r == -ETIME)
                return confirm_answer(req, form, 400, "token expired", "expired");
        if (r < 0)
                return api_reply_internal(req, r);

        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", user_id);
        req->log_event = "email_confirmed";
        api_audit(req, "email_confirmed", user_id, NULL, "e-mail address confirmed");
        return confirm_answer(req, form, 200, NULL, "confirmed");
}

/* --- login and logout ---------------------------------------------------- */

int api_auth_login(struct http_request *req)
{
        _cleanup_(api_login_done) struct api_login in = {0};
        struct session_secrets sec;
        struct store_user u = {0};
        int r;

        r = api_login_request(req, ACCOUNT_LOGIN_MAX, ACCOUNT_PASSWORD_MAX, &in);
        if (r != 0)
                return api_answered(r);

        r = api_check_credentials(req, in.username, in.password, &u);
        if (r < 0)
                return api_reply_internal(req, r);
        if (r != API_CREDENTIALS_OK) {
                api_audit(req, "login_failed", api_known_user_id(req), NULL,
                          r == API_CREDENTIALS_BLOCKED       ? "account blocked"
                          : r == API_CREDENTIALS_UNCONFIRMED ? "email not confirmed"
                                                             : "invalid credentials");
                return api_answered(api_reply_credentials(req, r, in.username, false));
        }

        r = session_rotate(req, api_app(req)->store, &session_kind_user, u.id, &sec);
        if (r < 0) {
                store_user_done(&u);
                return api_reply_internal(req, r);
        }
        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", u.id);
        req->log_event = "login";
        api_audit(req, "login", u.id, NULL, "web session started");

        r = api_reply_session(req, &session_kind_user,
                              json_pack("{s:s,s:s}", "token", sec.token, "user_id", u.id), &sec);
        store_user_done(&u);
        session_secrets_wipe(&sec);
        return r;
}

int api_auth_logout(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *form_csrf = NULL;
        const struct body_field fields[] = {
                {SESSION_CSRF_FIELD, BODY_STRING, &form_csrf, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .form = true};
        struct session s;
        int r;

        /* The body matters only as a form carrying csrf_token. */
        if (body_is_form(req)) {
                r = api_fields_parse(req, &spec, &root);
                if (r != 0)
                        return api_answered(r);
        }
        r = session_from_request(req, api_app(req)->store, &session_kind_user, &s);
        if (r == 0) {
                r = api_session_csrf(req, &s, form_csrf);
                if (r != 0)
                        return api_answered(r);
                snprintf(req->log_user_id, sizeof(req->log_user_id), "%.39s", s.subject_id);
                req->log_event = "logout";
                r = session_end(api_app(req)->store, &s);
                if (r < 0)
                        return api_reply_internal(req, r);
                api_audit(req, "logout", s.subject_id, NULL, "web session ended");
        } else if (r != -ENOENT && r != -EKEYREJECTED && r != -EKEYEXPIRED)
                return api_reply_internal(req, r);

        /* Logged out either way: the cookies go too. */
        return api_reply_session(req, &session_kind_user,
                                 json_pack("{s:s}", "status", "logged out"), NULL);
}

/* --- forgot and reset ---------------------------------------------------- */

/* A password-reset request, handled off the request path so that the
 * answer takes the same time whether or not the address exists. */
struct forgot_job {
        struct app *app;
        char email[EMAIL_MAX + 1];
        char base[ACCOUNT_LINK_BASE_MAX];
        char ip[INET6_ADDRSTRLEN];
        const char *chosen_locale;  /* from the verstak_locale cookie, or NULL */
        const char *request_locale; /* Accept-Language, else the default */
};

static void forgot_run(void *data)
{
        struct forgot_job *job = data;
        struct app *app = job->app;
        char token[TOKEN_EMAIL_HEX + 1], hash[TOKEN_SHA256_HEX + 1];
        char expires[TIME_RFC3339_SIZE];
        struct store_user u = {0};
        const char *locale;
        int r;

        r = store_user_find_by_email(app->store, job->email, &u);
        if (r == -ENOENT)
                return;
        if (r < 0) {
                log_warning_errno(r, "Password reset: cannot look up the account: %m");
                return;
        }
        token_random_hex(token, TOKEN_EMAIL_HEX);
        token_sha256_hex(token, strlen(token), hash);
        time_format_rfc3339(time(NULL) + RESET_TOKEN_SECONDS, expires);
        r = store_email_token_add(app->store, u.id, STORE_TOKEN_RESET, hash, expires);
        if (r < 0) {
                log_warning_errno(r, "Password reset: cannot store a token for user %s: %m", u.id);
                goto out;
        }
        r = store_audit_add(app->store, "password_reset_requested", u.id, NULL, job->ip,
                            "reset link sent");
        if (r < 0)
                log_warning_errno(r, "Cannot record audit event password_reset_requested: %m");

        /* An explicit choice first, then the account's language. */
        locale = job->chosen_locale;
        if (!locale)
                locale = locale_supported(u.locale);
        if (!locale)
                locale = job->request_locale;
        struct mail_job *mj = mail_job_new(app, MAIL_TEXT_RESET, u.id, u.email, u.username, locale,
                                           job->base, token);
        if (mj) {
                mail_job_send(mj); /* already on the background worker */
                mail_job_free(mj);
        } else {
                atomic_fetch_add_explicit(&app->mail_failures, 1, memory_order_relaxed);
                log_oom();
        }
out:
        sodium_memzero(token, sizeof(token));
        store_user_done(&u);
}

int api_auth_forgot(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ struct forgot_job *job = NULL;
        const char *email_in = NULL;
        const struct body_field fields[] = {
                {"email", BODY_STRING, &email_in, .flags = BODY_NOT_BLANK},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .missing = "email required"};
        int r;

        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        r = api_rate_limit(req, RL_FORGOT, email_in);
        if (r != 0)
                return api_answered(r);

        job = calloc(1, sizeof(*job));
        if (!job)
                return api_reply_internal(req, -ENOMEM);
        job->app = app;
        /* Refused for every address alike: says nothing about accounts. */
        r = api_link_base(req, job->base, sizeof(job->base));
        if (r == -EADDRNOTAVAIL)
                return api_reply_public_url_required(req);
        /* An address that cannot exist, or a request whose links cannot be
         * built, gets the same answer and nothing happens. */
        if (email_normalize(email_in, job->email) == 0 && r == 0) {
                snprintf(job->ip, sizeof(job->ip), "%s", req->client_ip);
                job->chosen_locale = locale_supported(http_cookie(req, LOCALE_COOKIE));
                job->request_locale = http_request_locale(req, app->config->web.default_locale);
                r = workq_submit(app->background, forgot_run, free, job);
                if (r == 0)
                        TAKE_PTR(job);
                else {
                        atomic_fetch_add_explicit(&app->mail_failures, 1, memory_order_relaxed);
                        log_warning_errno(r, "Password reset: cannot queue the request: %m");
                }
        }
        req->log_event = "password_reset_requested";
        return http_reply_json(req, 200,
                               json_pack("{s:s}", "status", "if email exists, reset link sent"), 0);
}

int api_reset_password(struct http_request *req, const char *token, const char *password)
{
        _cleanup_free_ char *user_id = NULL;
        char token_hash[TOKEN_SHA256_HEX + 1], hash[PASSWORD_HASH_MAX];
        size_t len = strlen(password);
        int r;

        if (len < ACCOUNT_PASSWORD_MIN)
                return API_RESET_TOO_SHORT;
        if (len > ACCOUNT_PASSWORD_MAX)
                return API_RESET_TOO_LONG;
        if (!hex_is_lower(token, TOKEN_EMAIL_HEX))
                return API_RESET_INVALID;

        r = password_hash(password, hash);
        if (r < 0)
                return r;
        token_sha256_hex(token, strlen(token), token_hash);
        r = store_account_reset_password(api_app(req)->store, token_hash, time(NULL), hash,
                                         &user_id);
        sodium_memzero(hash, sizeof(hash));
        if (r == -ENOENT)
                return API_RESET_INVALID;
        if (r == -ETIME)
                return API_RESET_EXPIRED;
        if (r < 0)
                return r;

        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", user_id);
        req->log_event = "password_reset";
        api_audit(req, "password_reset", user_id, NULL, "password reset by e-mail link");
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_SECURITY},
                {"EVENT", "password_reset"},
                {"USER_ID", user_id},
        };
        log_struct(LOG_NOTICE, f, "Password of user %s reset by e-mail link; sessions ended",
                   user_id);
        return API_RESET_OK;
}

int api_auth_reset(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *token = NULL, *password = NULL;
        const struct body_field fields[] = {
                {"token", BODY_STRING, &token, .flags = BODY_NOT_BLANK},
                {"new_password", BODY_STRING, &password, .flags = BODY_REQUIRED},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing = "token and new_password required"};
        int r;

        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        r = api_rate_limit(req, RL_RESET, NULL);
        if (r != 0)
                return api_answered(r);

        r = api_reset_password(req, token, password);
        switch (r) {
        case API_RESET_OK:
                return http_reply_json(req, 200, json_pack("{s:s}", "status", "password reset"), 0);
        case API_RESET_TOO_SHORT:
                return bad_request(req, "PASSWORD_TOO_SHORT");
        case API_RESET_TOO_LONG:
                return bad_request(req, "PASSWORD_TOO_LONG");
        case API_RESET_INVALID:
                return bad_request(req, "invalid or expired token");
        case API_RESET_EXPIRED:
                return bad_request(req, "token expired");
        default:
                return api_reply_internal(req, r);
        }
}
