/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/api.h: device authentication, the rate-limit gate,
 * credential checks and audit entries shared by the endpoint files.
 */
#include "api/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>

#include "api/app.h"
#include "api/health.h"
#include "api/errors.h"
#include "api/longpoll.h"
#include "api/metrics.h"
#include "auth/password.h"
#include "auth/token.h"
#include "mailer/mail_client.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/text.h"
#include "util/workq.h"

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
                req->log_event = "password_hash_busy";
                return api_reply_retry_after(req, API_ERR_UNAVAILABLE,
                                             "server busy, try again later",
                                             API_HASH_RETRY_AFTER) < 0
                               ? r
                               : 0;
        }
        if (r == -EBUSY) {
                /* The write lock is held elsewhere beyond the wait: the
                 * client may retry; readiness turns degraded meanwhile. */
                health_monitor_kick(api_app(req)->health);
                req->log_event = "database_busy";
                return api_reply_retry_after(req, API_ERR_UNAVAILABLE,
                                             "the database is busy, try again later",
                                             API_BUSY_RETRY_AFTER) < 0
                               ? r
                               : 0;
        }
        if (r == -ENOSPC) {
                /* The data filesystem is full: writes fail, reads go on. */
                health_monitor_kick(api_app(req)->health);
                req->log_event = "storage_full";
                return api_error(req, API_ERR_INSUFFICIENT_STORAGE,
                                 "not enough free space on the server") < 0
                               ? r
                               : 0;
        }
        log_error_errno(r, "%s %s: internal error: %m", req->method, req->path);
        return api_error(req, API_ERR_INTERNAL, "internal server error") < 0 ? r : 0;
}

/* A Host header fit to build a link on: a name or address, maybe a port. */
static bool host_is_plain(const char *host)
{
        if (!*host)
                return false;
        for (const char *p = host; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr(".-:[]", *p)))
                        return false;
        return true;
}

int api_link_base(struct http_request *req, char *out, size_t size)
{
        const char *pub = api_app(req)->config->public_url, *host;
        int r;

        if (pub) {
                r = snprintf(out, size, "%s", pub);
                return r < 0 || (size_t)r >= size ? -ENAMETOOLONG : 0;
        }
        r = http_request_origin(req, out, size);
        if (r < 0)
                return r;
        host = strstr(out, "://") + 3;
        if (!host_is_plain(host))
                return -EINVAL;
        return netaddr_host_is_loopback(host) ? 0 : -EADDRNOTAVAIL;
}

int api_reply_public_url_required(struct http_request *req)
{
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY}, {"EVENT", "public_url_required"}};

        log_struct(LOG_WARNING, f,
                   "Account e-mail refused: public_url is not set and the request was not made "
                   "to a loopback host; set public_url");
        return api_error(req, API_ERR_PUBLIC_URL_REQUIRED,
                         "account e-mail is not available: the server's public_url is not set "
                         "(links are built only for loopback hosts without it)");
}

int api_storage_check(struct http_request *req, uint64_t incoming)
{
        const struct config *cfg = api_app(req)->config;
        uint64_t total, avail, reserve;
        struct statvfs st;

        if (cfg->limits.disk_reserve_bytes == 0 || cfg->limits.disk_reserve_percent == 0)
                return 0;
        if (statvfs(api_app(req)->blob_dir, &st) < 0)
                return api_reply_internal(req, -errno) < 0 ? -EIO : BODY_ANSWERED;
        total = (uint64_t)st.f_blocks * st.f_frsize;
        avail = (uint64_t)st.f_bavail * st.f_frsize;
        reserve = config_disk_reserve(cfg, total);
        if (avail >= reserve && avail - reserve >= incoming)
                return 0;
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                {"EVENT", "insufficient_storage"}};
        log_struct(LOG_WARNING, f,
                   "Refused a write: %" PRIu64 " bytes free on the data filesystem, %" PRIu64
                   " kept in reserve",
                   avail, reserve);
        req->log_event = "insufficient_storage";
        return api_error_answered(req, API_ERR_INSUFFICIENT_STORAGE,
                                  "the server is low on storage; try again later");
}

/* A write no answer depends on, run by app->deferred. */
struct deferred_write {
        struct store *store;
        bool audit; /* else a last_seen update of device_id (or of user_id) */
        char *event, *user_id, *device_id, *ip, *message;
};

static void deferred_write_free(void *data)
{
        struct deferred_write *w = data;

        free(w->event);
        free(w->user_id);
        free(w->device_id);
        free(w->ip);
        free(w->message);
        free(w);
}

static void deferred_write_run(void *data)
{
        struct deferred_write *w = data;
        int r;

        if (w->audit)
                r = store_audit_add(w->store, w->event, w->user_id, w->device_id, w->ip,
                                    w->message);
        else if (w->device_id)
                r = store_device_touch(w->store, w->device_id, w->ip);
        else
                r = store_user_touch(w->store, w->user_id);
        if (r < 0)
                log_warning_errno(r, "Cannot record %s: %m", w->audit ? w->event : "last_seen");
}

static char *strdup_or_null(const char *s, bool *oom)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                *oom = true;
        return d;
}

/* Queue a write for app->deferred; when the queue is full the write is
 * dropped (a request never waits for it), with a warning now and then. */
static void defer_write(struct app *app, bool audit, const char *event, const char *user_id,
                        const char *device_id, const char *ip, const char *message)
{
        static atomic_uint_fast64_t dropped;
        struct deferred_write *w = calloc(1, sizeof(*w));
        bool oom = !w;

        if (w) {
                w->store = app->store;
                w->audit = audit;
                w->event = strdup_or_null(event, &oom);
                w->user_id = strdup_or_null(user_id, &oom);
                w->device_id = strdup_or_null(device_id, &oom);
                w->ip = strdup_or_null(ip, &oom);
                w->message = strdup_or_null(message, &oom);
        }
        if (!oom && workq_submit(app->deferred, deferred_write_run, deferred_write_free, w) == 0)
                return;
        if (w)
                deferred_write_free(w);
        uint_fast64_t n = atomic_fetch_add(&dropped, 1) + 1;
        if ((n & (n - 1)) == 0)
                log_warning("Dropped %llu deferred writes (last_seen, audit): the database is "
                            "not keeping up",
                            (unsigned long long)n);
}

int api_mail_send(struct app *app, const char *to, const char *subject, const char *body, char *err,
                  size_t err_size)
{
        if (!app->mail) {
                snprintf(err, err_size, "no mail helper is running");
                return -ENOTCONN;
        }
        int r = mail_client_send(app->mail, to, subject, body, err, err_size);
        if (r >= 0)
                api_metrics_add(app->metrics, API_METRIC_MAIL_SENT, 1);
        return r;
}

void api_audit(struct http_request *req, const char *event, const char *user_id,
               const char *device_id, const char *message)
{
        defer_write(api_app(req), true, event, user_id, device_id, req->client_ip, message);
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
                char client[API_CLIENT_KEY_SIZE];
                store_device_done(&dev);
                /* Unknown tokens cost no write beyond a few audit entries
                 * per client (IPv6: per /64) and minute. */
                api_client_key(req, client);
                if (!api_app(req)->ratelimit ||
                    ratelimit_hit(api_app(req)->ratelimit, RL_AUDIT_BAD_TOKEN, RL_KIND_ADDRESS,
                                  client, time(NULL)) == 0)
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

        if (touch && api_device_seen_stale(req, &dev))
                defer_write(api_app(req), false, NULL, NULL, dev.id, req->client_ip, NULL);
        *ret = dev;
        return 0;
}

void api_client_key(struct http_request *req, char out[API_CLIENT_KEY_SIZE])
{
        /* IPv6 clients share one budget per /64 (api.md §1). */
        if (netaddr_rate_key((const struct sockaddr *)&req->client_addr, out, API_CLIENT_KEY_SIZE) <
            0)
                snprintf(out, API_CLIENT_KEY_SIZE, "%s", req->client_ip);
}

static int reply_rate_limited(struct http_request *req, enum ratelimit_rule rule, unsigned wait);

/* The wait for the client address's and the account's buckets of rule,
 * counting this attempt (count) or only looking. */
static unsigned rate_wait(struct http_request *req, enum ratelimit_rule rule, const char *account,
                          bool count)
{
        unsigned (*fn)(struct ratelimit *, enum ratelimit_rule, enum ratelimit_kind, const char *,
                       time_t) = count ? ratelimit_hit : ratelimit_peek;
        struct ratelimit *rl = api_app(req)->ratelimit;
        time_t now = time(NULL);
        char client[API_CLIENT_KEY_SIZE];
        unsigned wait;

        if (!rl)
                return 0;
        api_client_key(req, client);
        wait = fn(rl, rule, RL_KIND_ADDRESS, client, now);
        if (wait == 0 && account && !str_is_blank(account)) {
                char norm[512], hash[TOKEN_SHA256_HEX + 1];
                snprintf(norm, sizeof(norm), "%s", account);
                str_ascii_lower(str_trim(norm));
                token_sha256_hex(norm, strlen(norm), hash);
                wait = fn(rl, rule, RL_KIND_ACCOUNT, hash, now);
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

        char msg[96];
        snprintf(msg, sizeof(msg), "rate limit exceeded: %s", ratelimit_rule_name(rule));
        api_audit(req, "rate_limit_exceeded", NULL, NULL, msg);
        req->log_event = "rate_limit_exceeded";
        api_metrics_add(api_app(req)->metrics, API_METRIC_RATE_LIMITED, 1);

        return api_reply_retry_after(req, API_ERR_RATE_LIMITED,
                                     "too many requests, try again later", wait);
}

int api_reply_retry_after(struct http_request *req, enum api_error e, const char *message,
                          unsigned seconds)
{
        char retry[24];
        struct MHD_Response *resp = api_error_response(e, message);

        if (!resp)
                return -ENOMEM;
        snprintf(retry, sizeof(retry), "%u", seconds);
        MHD_add_response_header(resp, "Retry-After", retry);
        return http_reply_response(req, api_error_status(e), resp, 0) < 0 ? -EIO : BODY_ANSWERED;
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
        const unsigned legacy = api_app(req)->legacy_bcrypt_cost;
        struct store_user u = {0};
        bool rehash = false;
        int r;

        r = store_user_find_by_login(api_app(req)->store, login, &u);
        if (r == -ENOENT)
                return password_fail_equalise(password, NULL, legacy) < 0 ? -EAGAIN
                                                                          : API_CREDENTIALS_INVALID;
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
                /* Every failure costs one Argon2id and one bcrypt check,
                 * whichever the account has (see app.h). */
                r = password_fail_equalise(password, u.password_hash, legacy);
                store_user_done(&u);
                return r < 0 ? -EAGAIN : API_CREDENTIALS_INVALID;
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
        defer_write(api_app(req), false, NULL, u.id, NULL, NULL, NULL);
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
