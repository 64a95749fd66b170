/* SPDX-License-Identifier: MIT */
/*
 * What endpoint handlers share: device authentication (api.md §2), the
 * rate-limit gate (§1), password checks with the "password first" rule of
 * §3, and audit entries.  Each function that can answer the request
 * returns BODY_ANSWERED (from http/body.h) when it did, so a handler's
 * pattern is:
 *
 *     r = api_device_auth(req, &auth);
 *     if (r != 0)
 *             return api_answered(r);
 *
 * Errors are named from the table of api/errors.h; request bodies are read
 * through the field specs of api/fields.h.
 */
#pragma once

#include <stdbool.h>

#include "api/app.h"
#include "api/errors.h"
#include "api/fields.h"
#include "auth/ratelimit.h"
#include "auth/session.h"
#include "http/body.h"
#include "http/http.h"
#include "store/store_devices.h"
#include "store/store_users.h"

/* What a handler returns for a helper's result r: 0 once the helper has
 * answered (BODY_ANSWERED), else r (0 or a negative errno). */
static inline int api_answered(int r)
{
        return r == BODY_ANSWERED ? 0 : r;
}

/* Minimum age of last_seen before an authenticated call rewrites it, so a
 * busy device does not cost a write per request. */
#define API_LAST_SEEN_GRANULARITY 60

/* Authenticate "Authorization: Bearer <device token>".  On 0, ret holds
 * the device (caller frees with store_device_done()).  Errors answered:
 * 401 "API key required" / "invalid API key" / "device revoked", 403 "user
 * blocked".  When touch is set, last_seen/last_ip are refreshed (a deferred
 * write: the request does not wait for it) if older
 * than API_LAST_SEEN_GRANULARITY. */
int api_device_auth(struct http_request *req, struct store_device *ret, bool touch);

/* Whether dev's last_seen/last_ip need rewriting for this request: older
 * than API_LAST_SEEN_GRANULARITY, unreadable, or another address. */
bool api_device_seen_stale(const struct http_request *req, const struct store_device *dev);

/* Whether the server is healthy: the database answers and the blob
 * directory can be written, as the health monitor last found (never a
 * query or a file per call). */
bool api_health_ok(struct app *app);

/* Count an attempt against rule for the client IP and, when account is
 * given, for sha256(lowercase(trimmed account)).  0 when allowed,
 * BODY_ANSWERED after a 429 with Retry-After. */
int api_rate_limit(struct http_request *req, enum ratelimit_rule rule, const char *account);

/* The same check without counting this attempt, for rules that count
 * failures only; api_rate_count() then counts a failure. */
int api_rate_limit_peek(struct http_request *req, enum ratelimit_rule rule, const char *account);
void api_rate_count(struct http_request *req, enum ratelimit_rule rule, const char *account);

enum api_credentials {
        API_CREDENTIALS_OK,
        API_CREDENTIALS_INVALID,     /* unknown login or wrong password */
        API_CREDENTIALS_BLOCKED,     /* right password, blocked account */
        API_CREDENTIALS_UNCONFIRMED, /* right password, e-mail not confirmed */
};

/* Check login (username, or e-mail case-insensitively) and password.  The
 * password is checked first, so blocked/unconfirmed are only reported to
 * someone who knows it; unknown logins cost the same time as known ones.
 * A bcrypt hash is rehashed to Argon2id on success.  On
 * API_CREDENTIALS_OK, *ret_user is filled (free with store_user_done()).
 * Whenever login names an existing account, whatever the outcome, its id
 * goes to req->log_user_id (request log and audit, never the answer).
 * Returns the enum value or a negative errno. */
int api_check_credentials(struct http_request *req, const char *login, const char *password,
                          struct store_user *ret_user);

/* The user id api_check_credentials() found for this request, or NULL
 * when the login named no account. */
const char *api_known_user_id(const struct http_request *req);

/* Answer a failed credential check: 401 "invalid credentials", 403
 * "account blocked", 403 "email not confirmed".  Records the audit event
 * device_auth_failed with the reason when audit_event is set. */
int api_reply_credentials(struct http_request *req, enum api_credentials c, const char *login,
                          bool audit);

/* Authenticate the web session of kind that the request presents (see
 * session_from_request()).  On 0, *ret holds it.  Errors answered: 401
 * "login required" / "invalid session" / "session expired". */
int api_session_auth(struct http_request *req, const struct session_kind *k, struct session *ret);

/* Answer 200 with body (stolen) and Cache-Control: no-store, setting the
 * cookies of kind that carry sec, or clearing them when sec is NULL
 * (login and logout of either kind of session). */
int api_reply_session(struct http_request *req, const struct session_kind *k, json_t *body,
                      const struct session_secrets *sec);

/* The CSRF check of api.md §8 for a state-changing request made with s
 * (form_token: the csrf_token form field, or NULL).  0 when it passes,
 * BODY_ANSWERED after 403 csrf_invalid. */
int api_session_csrf(struct http_request *req, const struct session *s, const char *form_token);

/* Revoke device_id on behalf of its owner user_id: wake its long polls
 * and answer 200 {"status": "revoked"}; 404 "device not found", 403
 * "device does not belong to you".  message goes to the audit log. */
int api_revoke_device(struct http_request *req, const char *device_id, const char *user_id,
                      const char *message);

/* Queue an audit entry with the request's client IP: written in the
 * background (app->deferred), so the request never waits for the writer;
 * failures are logged, not returned (auditing never changes an answer). */
void api_audit(struct http_request *req, const char *event, const char *user_id,
               const char *device_id, const char *message);

/* Retry-After (seconds) of a 503 while the database cannot take a write. */
#define API_BUSY_RETRY_AFTER 2
/* Retry-After (seconds) of a 503 while every password hash slot is busy. */
#define API_HASH_RETRY_AFTER 1
/* Retry-After (seconds) of a 503 while the push queue is full
 * (STORE_PUSH_QUEUE_MAX). */
#define API_PUSH_RETRY_AFTER 1

/* Reply helper: answer r as the contract wants when a handler hits an
 * internal error: 503 unavailable with Retry-After when every password
 * hash slot stayed busy (-EAGAIN) or the write lock could not be taken in
 * time (-EBUSY), 507 insufficient_storage when the data filesystem is full
 * (-ENOSPC), else 500 internal_error (the cause is logged, never sent). */
int api_reply_internal(struct http_request *req, int r);

/*
 * The base of links sent by e-mail: public_url when configured; without
 * it the origin of the request, but only when its Host names a loopback
 * address (a local trial), never a Host a client or proxy chose.  Returns
 * 0, -EADDRNOTAVAIL (public_url unset, Host not loopback: answer with
 * api_reply_public_url_required()), -EINVAL (malformed Host) or
 * -ENAMETOOLONG.
 */
int api_link_base(struct http_request *req, char *out, size_t size);

/*
 * Whether the data filesystem keeps its reserve (limits.disk_reserve_*:
 * the smaller of the byte count and the percentage of its size) after
 * incoming more bytes.  0 when it does; otherwise 507 insufficient_storage
 * was answered (logged) and BODY_ANSWERED is returned.  Reads never call
 * this: they keep working on a full disk.
 */
int api_storage_check(struct http_request *req, uint64_t incoming);

/* The key a client is counted under for rate limits and upload slots:
 * its address, IPv6 grouped by /64. */
#define API_CLIENT_KEY_SIZE (INET6_ADDRSTRLEN + 8)
void api_client_key(struct http_request *req, char out[API_CLIENT_KEY_SIZE]);

/* Answer error e with message and Retry-After: seconds.
 * BODY_ANSWERED, or a negative errno. */
int api_reply_retry_after(struct http_request *req, enum api_error e, const char *message,
                          unsigned seconds);

/* 503 public_url_required: account e-mail needs public_url (logged). */
int api_reply_public_url_required(struct http_request *req);

/* Hand one message to the mail helper and wait for its verdict (up to
 * MAIL_CLIENT_REPLY_TIMEOUT_MS: call it from app->background, never on a
 * request thread).  0 once delivered or written to the outbox; otherwise
 * a negative errno with a human reason, free of secrets, in err. */
int api_mail_send(struct app *app, const char *to, const char *subject, const char *body, char *err,
                  size_t err_size);

/* How a password reset by e-mail token went (api_reset_password()). */
enum api_reset {
        API_RESET_OK,
        API_RESET_TOO_SHORT, /* PASSWORD_TOO_SHORT */
        API_RESET_TOO_LONG,  /* PASSWORD_TOO_LONG */
        API_RESET_INVALID,   /* unknown, used or malformed token */
        API_RESET_EXPIRED,   /* past its hour (and now deleted) */
};

/* The reset of api.md §6 shared by POST /api/v1/auth/reset and the reset
 * page's form, after the caller's presence check and rate limit: password
 * rules, then the single-use token; on success the new hash, the end of
 * all the user's sessions and reset tokens (one transaction), an audit
 * entry and a log record.  Returns the outcome or a negative errno. */
int api_reset_password(struct http_request *req, const char *token, const char *password);

/* Account field rules (api.md §6). */
#define ACCOUNT_USERNAME_MAX 64
#define ACCOUNT_PASSWORD_MIN 8
#define ACCOUNT_PASSWORD_MAX 256

/* The password rule of register, reset and the console: 0, or
 * BODY_ANSWERED after 400 PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG. */
int api_check_new_password(struct http_request *req, const char *password);

/* Usernames: 1-64 bytes once trimmed, no control characters, and no '@',
 * so that a login name can never be mistaken for someone's address.
 * 0, or -EINVAL. */
int api_username_normalize(const char *in, char out[ACCOUNT_USERNAME_MAX + 1]);

/* Whether a file could be created in the blob directory when the health
 * monitor last looked, about a second ago (health and the console's
 * warnings; no file is created per call). */
bool api_blob_dir_writable(struct app *app);

/* Whether s is longer than max bytes. */
bool api_too_long(const char *s, size_t max);

/* A sign-in request (user or administrator login, api.md §6 and §8). */
struct api_login {
        json_t *root; /* owns username and password: json_decref() it */
        const char *username;
        const char *password;
};

/* The checks every sign-in makes before looking at the credentials, in
 * this order: the body {username, password} (400 "username and password
 * required", 400 "field too long" beyond username_max/password_max
 * bytes), a same-origin request (403 csrf_invalid "cross-site login
 * refused"), and the login rate limit for the client and the username
 * (429).  0 with *ret filled, BODY_ANSWERED, or a negative errno; either
 * way release *ret with api_login_done(). */
int api_login_request(struct http_request *req, size_t username_max, size_t password_max,
                      struct api_login *ret);

static inline void api_login_done(struct api_login *l)
{
        json_decref(l->root);
        *l = (struct api_login){0};
}
