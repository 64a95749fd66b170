/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/api.h: device authentication, the rate-limit gate,
 * credential checks and audit entries shared by the endpoint files.
 */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/app.h"
#include "api/errors.h"
#include "api/longpoll.h"
#include "auth/password.h"
#include "auth/token.h"
#include "mailer/mail_client.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/text.h"

bool api_too_long(const char *s, size_t max)
{
        return s && strlen(s) > max;
}

int api_check_new_password(struct http_request *req, const char *password)
{
        size_t len = strlen(password);

        if (len >= ACCOUNT_PASSWORD_MIN && len <= ACCOUNT_PASSWORD_MAX)
                return 0;
        return api_error_answered(req, API_ERR_INVALID_REQUEST,
                                  len < ACCOUNT_PASSWORD_MIN ? "PASSWORD_TOO_SHORT"
                                                             : "PASSWORD_TOO_LONG");
}

int api_username_normalize(const char *in, char out[ACCOUNT_USERNAME_MAX + 1])
{
        size_t len;

        /* Surrounding blanks do not count towards the limit. */
        while (*in == ' ' || *in == '\t')
                in++;
        len = strlen(in);
        while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
                len--;
        if (len == 0 || len > ACCOUNT_USERNAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)in[i];
                if (c < 0x20 || c == 0x7f || c == '@')
                        return -EINVAL;
        }
        memcpy(out, in, len);
        out[len] = '\0';
        return 0;
}

int api_reply_internal(struct http_request *req, int r)
{
        if (r == -EAGAIN) {
                /* Every password hash slot stayed busy (auth/password.h). */
                struct MHD_Response *resp =
                        api_error_response(API_ERR_UNAVAILABLE, "server busy, try again later");
                if (!resp)
                        return -ENOMEM;
                req->log_event = "password_hash_busy";
                MHD_add_response_header(resp, "Retry-After", "1");
                return http_reply_response(req, api_error_status(API_ERR_UNAVAILABLE), resp, 0);
        }
        log_error_errno(r, "%s %s: internal error: %m", req->method, req->path);
        return api_error(req, API_ERR_INTERNAL, "internal server error") < 0 ? r : 0;
}

int api_mail_send(struct app *app, const char *to, const char *subject, const char *body, char *err,
                  size_t err_size)
{
        if (!app->mail) {
                snprintf(err, err_size, "no mail helper is running");
                return -ENOTCONN;
        }
        return mail_client_send(app->mail, to, subject, body, err, err_size);
}

void api_audit(struct http_request *req, const char *event, const char *user_id,
               const char *device_id, const char *message)
{
        int r = store_audit_add(api_app(req)->store, event, user_id, device_id, req->client_ip,
                                message);
        if (r < 0)
                log_warning_errno(r, "Cannot record audit event %s: %m", event);
}

bool api_device_seen_stale(const struct http_request *req, const struct store_device *dev)
{
        time_t seen = 0;

        return time_parse_rfc3339(dev->last_seen, &seen) < 0 ||
               time(NULL) - seen >= API_LAST_SEEN_GRANULARITY ||
               strcmp(dev->last_ip, req->client_ip) != 0;
}

int api_device_auth(struct http_request *req, struct store_device *ret, bool touch)
{
        const char *h = http_header(req, "Authorization");
        char hash[TOKEN_SHA256_HEX + 1];
        struct store_device dev = {0};
        const char *token;
        int r;

        if (!h || strncasecmp(h, "Bearer ", 7) != 0 || str_is_blank(h + 7))
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "API key required");
        token = h + 7;
        while (*token == ' ')
                token++;
        if (strlen(token) > 256)
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "invalid API key");

        token_sha256_hex(token, strlen(token), hash);
        r = store_device_by_token_hash(api_app(req)->store, hash, &dev);
        if (r == -ENOENT || (r == 0 && !token_equal(dev.token_hash, hash)) ||
            (r == 0 && !dev.owner_username[0])) {
                store_device_done(&dev);
                /* Unknown tokens cost no write beyond a few audit entries
                 * per client and minute. */
                if (!api_app(req)->ratelimit ||
                    ratelimit_hit(api_app(req)->ratelimit, RL_AUDIT_BAD_TOKEN, req->client_ip,
                                  time(NULL)) == 0)
                        api_audit(req, "device_auth_failed", NULL, NULL, "invalid API key");
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "invalid API key");
        }
        if (r < 0)
                return r;
        snprintf(req->log_device_id, sizeof(req->log_device_id), "%s", dev.id);
        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", dev.user_id);
        if (dev.revoked_at[0]) {
                api_audit(req, "device_auth_failed", dev.user_id, dev.id, "device revoked");
                store_device_done(&dev);
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "device revoked");
        }
        if (dev.owner_blocked) {
                api_audit(req, "device_auth_failed", dev.user_id, dev.id, "user blocked");
                store_device_done(&dev);
                return api_error_answered(req, API_ERR_FORBIDDEN, "user blocked");
        }

        if (touch && api_device_seen_stale(req, &dev)) {
                r = store_device_touch(api_app(req)->store, dev.id, req->client_ip);
                if (r < 0)
                        log_warning_errno(r, "Cannot update last_seen: %m");
        }
        *ret = dev;
        return 0;
}

static int reply_rate_limited(struct http_request *req, enum ratelimit_rule rule, unsigned wait);

/* The wait for the client IP's and the account's buckets of rule,
 * counting this attempt (count) or only looking. */
static unsigned rate_wait(struct http_request *req, enum ratelimit_rule rule, const char *account,
                          bool count)
{
        unsigned (*fn)(struct ratelimit *, enum ratelimit_rule, const char *, time_t) =
                count ? ratelimit_hit : ratelimit_peek;
        struct ratelimit *rl = api_app(req)->ratelimit;
        time_t now = time(NULL);
        unsigned wait;

        if (!rl)
                return 0;
        wait = fn(rl, rule, req->client_ip, now);
        if (wait == 0 && account && !str_is_blank(account)) {
                char norm[512], hash[TOKEN_SHA256_HEX + 1];
                snprintf(norm, sizeof(norm), "%s", account);
                str_ascii_lower(str_trim(norm));
                token_sha256_hex(norm, strlen(norm), hash);
                wait = fn(rl, rule, hash, now);
        }
        return wait;
}

void api_rate_count(struct http_request *req, enum ratelimit_rule rule, const char *account)
{
        (void)rate_wait(req, rule, account, true);
}

int api_rate_limit_peek(struct http_request *req, enum ratelimit_rule rule, const char *account)
{
        return reply_rate_limited(req, rule, rate_wait(req, rule, account, false));
}

int api_rate_limit(struct http_request *req, enum ratelimit_rule rule, const char *account)
{
        return reply_rate_limited(req, rule, rate_wait(req, rule, account, true));
}

static int reply_rate_limited(struct http_request *req, enum ratelimit_rule rule, unsigned wait)
{
        if (wait == 0)
                return 0;

        char retry[24], msg[96];
        snprintf(retry, sizeof(retry), "%u", wait);
        snprintf(msg, sizeof(msg), "rate limit exceeded: %s", ratelimit_rule_name(rule));
        api_audit(req, "rate_limit_exceeded", NULL, NULL, msg);
        req->log_event = "rate_limit_exceeded";

        struct MHD_Response *resp =
                api_error_response(API_ERR_RATE_LIMITED, "too many requests, try again later");
        if (!resp)
                return -ENOMEM;
        MHD_add_response_header(resp, "Retry-After", retry);
        return http_reply_response(req, api_error_status(API_ERR_RATE_LIMITED), resp, 0) < 0
                       ? -EIO
                       : BODY_ANSWERED;
}

int api_login_request(struct http_request *req, size_t username_max, size_t password_max,
                      struct api_login *ret)
{
        const struct body_field fields[] = {
                {"username", BODY_STRING, &ret->username, .flags = BODY_NOT_BLANK,
                 .max_len = username_max},
                {"password", BODY_STRING, &ret->password, .flags = BODY_REQUIRED,
                 .max_len = password_max},
        };
        const struct api_fields spec = {
                fields,
                ELEMENTSOF(fields),
                .missing = "username and password required",
                .too_long = "field too long",
        };
        int r;

        *ret = (struct api_login){0};
        r = api_fields_parse(req, &spec, &ret->root);
        if (r != 0)
                return r;
        if (session_check_origin(req, api_app(req)->config->public_url) < 0) {
                req->log_event = "csrf_rejected";
                return api_error_answered(req, API_ERR_CSRF_INVALID, "cross-site login refused");
        }
        return api_rate_limit(req, RL_LOGIN, ret->username);
}

int api_check_credentials(struct http_request *req, const char *login, const char *password,
                          struct store_user *ret_user)
{
        struct store_user u = {0};
        bool rehash = false;
        int r;

        r = store_user_find_by_login(api_app(req)->store, login, &u);
        if (r == -ENOENT)
                return password_verify_dummy(password) < 0 ? -EAGAIN : API_CREDENTIALS_INVALID;
        if (r < 0)
                return r;

        /* A failed attempt on an existing account is audited with its
         * user (the answer stays the same as for an unknown login). */
        snprintf(req->log_user_id, sizeof(req->log_user_id), "%.39s", u.id);
        r = password_verify(password, u.password_hash, &rehash);
        if (r == -EAGAIN) {
                store_user_done(&u);
                return r;
        }
        if (r <= 0) {
                if (r < 0)
                        log_warning("User %s has a password hash of an unknown format", u.id);
                store_user_done(&u);
                return API_CREDENTIALS_INVALID;
        }
        if (rehash) {
                char hash[PASSWORD_HASH_MAX];
                if (password_hash(password, hash) == 0 &&
                    store_user_set_password_hash(api_app(req)->store, u.id, hash) == 0)
                        log_info("Rehashed the password of user %s with Argon2id", u.id);
        }
        if (u.blocked) {
                store_user_done(&u);
                return API_CREDENTIALS_BLOCKED;
        }
        if (!u.confirmed) {
                store_user_done(&u);
                return API_CREDENTIALS_UNCONFIRMED;
        }
        (void)store_user_touch(api_app(req)->store, u.id);
        *ret_user = u;
        return API_CREDENTIALS_OK;
}

const char *api_known_user_id(const struct http_request *req)
{
        return req->log_user_id[0] ? req->log_user_id : NULL;
}

int api_reply_credentials(struct http_request *req, enum api_credentials c, const char *login,
                          bool audit)
{
        enum api_error e = API_ERR_FORBIDDEN;
        const char *msg;
        (void)login;

        switch (c) {
        case API_CREDENTIALS_BLOCKED:
                msg = "account blocked";
                break;
        case API_CREDENTIALS_UNCONFIRMED:
                msg = "email not confirmed";
                break;
        default:
                e = API_ERR_UNAUTHORIZED;
                msg = "invalid credentials";
                break;
        }
        if (audit)
                api_audit(req, "device_auth_failed", api_known_user_id(req), NULL, msg);
        return api_error_answered(req, e, msg);
}

int api_session_auth(struct http_request *req, const struct session_kind *k, struct session *ret)
{
        int r = session_from_request(req, api_app(req)->store, k, ret);

        switch (r) {
        case 0:
                snprintf(req->log_user_id, sizeof(req->log_user_id), "%.39s", ret->subject_id);
                return 0;
        case -ENOENT:
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "login required");
        case -EKEYREJECTED:
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "invalid session");
        case -EKEYEXPIRED:
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "session expired");
        default:
                return api_reply_internal(req, r) < 0 ? r : BODY_ANSWERED;
        }
}

int api_reply_session(struct http_request *req, const struct session_kind *k, json_t *body,
                      const struct session_secrets *sec)
{
        struct MHD_Response *resp = http_response_from_json(body);
        int r;

        if (!resp)
                return api_reply_internal(req, -ENOMEM);
        r = sec ? session_set_cookies(req, resp, k, sec) : session_clear_cookies(req, resp, k);
        if (r < 0) {
                MHD_destroy_response(resp);
                return api_reply_internal(req, r);
        }
        return http_reply_response(req, 200, resp, HTTP_REPLY_NO_STORE);
}

int api_session_csrf(struct http_request *req, const struct session *s, const char *form_token)
{
        if (session_check_csrf(req, api_app(req)->config->public_url, s, form_token) == 0)
                return 0;
        req->log_event = "csrf_rejected";
        return api_error_answered(req, API_ERR_CSRF_INVALID, "CSRF check failed");
}

int api_revoke_device(struct http_request *req, const char *device_id, const char *user_id,
                      const char *message)
{
        struct store_device target = {0};
        int r = store_device_get(api_app(req)->store, device_id, &target);

        if (r == 0) {
                bool owned = strcmp(target.user_id, user_id) == 0;
                store_device_done(&target);
                if (!owned)
                        return api_error(req, API_ERR_FORBIDDEN, "device does not belong to you");
                r = store_device_revoke(api_app(req)->store, device_id, req->client_ip, message);
        }
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "device not found");
        if (r < 0)
                return api_reply_internal(req, r);
        req->log_event = "device_revoked";
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_DEVICE_REVOKED},
                {"EVENT", "device_revoked"},
                {"DEVICE_ID", device_id},
                {"USER_ID", user_id},
        };
        log_struct(LOG_NOTICE, f, "Device %s revoked (%s)", device_id, message);
        longpoll_wake_device(api_app(req)->longpoll, device_id);
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "revoked"), 0);
}
