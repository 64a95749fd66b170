/* SPDX-License-Identifier: MIT */
/*
 * Implementation of auth/session.h.  Secrets are generated and hashed here
 * and handed to the store only as hashes; nothing here logs or answers.
 */
#include "auth/session.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "store/store_accounts.h"
#include "util/cleanup.h"
#include "util/text.h"

/* At most this many csrf_token cookies are considered (one per Path). */
#define SESSION_MAX_CSRF_COOKIES 4

const struct session_kind session_kind_user = {
        .scope = STORE_SESSION_USER,
        .cookie = "user_session",
        .path = "/",
        .allow_bearer = true,
};

const struct session_kind session_kind_admin = {
        .scope = STORE_SESSION_ADMIN,
        .cookie = "admin_session",
        .path = "/admin",
        .allow_bearer = false,
};

void session_secrets_wipe(struct session_secrets *sec)
{
        if (sec)
                sodium_memzero(sec, sizeof(*sec));
}

/* The token of "Bearer <token>", or NULL. */
static const char *bearer_token(const char *header)
{
        if (!header || strncasecmp(header, "Bearer ", 7) != 0)
                return NULL;
        header += 7;
        while (*header == ' ')
                header++;
        return *header ? header : NULL;
}

/* The session credential the request presents for kind, or NULL; *via
 * tells where it came from. */
static const char *presented_token(struct http_request *req, const struct session_kind *k,
                                   enum session_via *via)
{
        if (k->allow_bearer) {
                const char *auth = http_header(req, "Authorization");
                if (auth) {
                        *via = SESSION_VIA_BEARER;
                        return bearer_token(auth);
                }
        }
        *via = SESSION_VIA_COOKIE;
        const char *cookie = http_cookie(req, k->cookie);
        return cookie && *cookie ? cookie : NULL;
}

int session_rotate(struct http_request *req, struct store *store, const struct session_kind *k,
                   const char *subject_id, struct session_secrets *ret)
{
        char token_hash[TOKEN_SHA256_HEX + 1], csrf_hash[TOKEN_SHA256_HEX + 1];
        char expires[TIME_RFC3339_SIZE];
        struct session_secrets sec = {0};
        const char *old = http_cookie(req, k->cookie);
        int r;

        if (old && *old && strlen(old) <= SESSION_TOKEN_MAX) {
                struct store_session prev = {0};
                token_sha256_hex(old, strlen(old), token_hash);
                r = store_session_get(store, token_hash, &prev);
                if (r == 0 && strcmp(prev.scope, k->scope) == 0)
                        r = store_session_delete(store, token_hash);
                store_session_done(&prev);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        token_random_hex(sec.token, TOKEN_SECRET_HEX);
        token_random_hex(sec.csrf, TOKEN_SECRET_HEX);
        token_sha256_hex(sec.token, strlen(sec.token), token_hash);
        token_sha256_hex(sec.csrf, strlen(sec.csrf), csrf_hash);
        time_format_rfc3339(time(NULL) + SESSION_LIFETIME_SECONDS, expires);
        r = store_session_create(store, token_hash, csrf_hash, k->scope, subject_id, expires);
        if (r < 0) {
                session_secrets_wipe(&sec);
                return r;
        }
        *ret = sec;
        session_secrets_wipe(&sec);
        return 0;
}

int session_from_request(struct http_request *req, struct store *store,
                         const struct session_kind *k, struct session *ret)
{
        struct store_session ss = {0};
        struct session s = {0};
        time_t now = time(NULL), seen = 0;
        const char *token = presented_token(req, k, &s.via);
        int r;

        if (!token) {
                /* An Authorization header that is not a Bearer token is a
                 * wrong credential, not a missing one. */
                return s.via == SESSION_VIA_BEARER ? -EKEYREJECTED : -ENOENT;
        }
        if (strlen(token) > SESSION_TOKEN_MAX)
                return -EKEYREJECTED;
        token_sha256_hex(token, strlen(token), s.token_hash);

        r = store_session_get(store, s.token_hash, &ss);
        if (r == -ENOENT)
                return -EKEYREJECTED;
        if (r < 0)
                return r;
        if (!token_equal(ss.token_hash, s.token_hash) || strcmp(ss.scope, k->scope) != 0 ||
            strlen(ss.subject_id) >= sizeof(s.subject_id) ||
            strlen(ss.csrf_hash) != TOKEN_SHA256_HEX) {
                r = -EKEYREJECTED;
                goto out;
        }
        if (time_parse_rfc3339(ss.expires_at, &s.expires_at) < 0 || s.expires_at <= now) {
                (void)store_session_delete(store, s.token_hash);
                r = -EKEYEXPIRED;
                goto out;
        }
        if (time_parse_rfc3339(ss.created_at, &s.created_at) < 0)
                s.created_at = 0; /* never counts as a recent login */
        memcpy(s.csrf_hash, ss.csrf_hash, sizeof(s.csrf_hash));
        memcpy(s.subject_id, ss.subject_id, strlen(ss.subject_id) + 1);
        if (time_parse_rfc3339(ss.last_seen, &seen) < 0 || now - seen >= SESSION_TOUCH_GRANULARITY)
                (void)store_session_touch(store, s.token_hash); /* best effort */
        *ret = s;
        r = 0;
out:
        store_session_done(&ss);
        return r;
}

int session_end(struct store *store, const struct session *s)
{
        int r = store_session_delete(store, s->token_hash);
        return r < 0 ? r : 0;
}

struct cookie_values {
        const char *values[SESSION_MAX_CSRF_COOKIES];
        size_t n;
};

static enum MHD_Result collect_csrf_cookie(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
        struct cookie_values *cv = cls;
        (void)kind;

        if (key && value && strcmp(key, SESSION_CSRF_COOKIE) == 0 &&
            cv->n < SESSION_MAX_CSRF_COOKIES)
                cv->values[cv->n++] = value;
        return MHD_YES;
}

int session_check_csrf(struct http_request *req, const char *public_url, const struct session *s,
                       const char *form_token)
{
        struct cookie_values cv = {0};
        const char *presented;

        if (s->via == SESSION_VIA_BEARER)
                return 0;
        presented = http_header(req, SESSION_CSRF_HEADER);
        if (!presented || !*presented)
                presented = form_token;
        (void)MHD_get_connection_values(req->conn, MHD_COOKIE_KIND, collect_csrf_cookie, &cv);
        if (!session_csrf_matches(presented, cv.values, cv.n, s->csrf_hash))
                return -EPERM;
        return session_check_origin(req, public_url);
}

int session_check_origin(struct http_request *req, const char *public_url)
{
        const char *origin = http_header(req, "Origin");
        char own[512];
        bool have_own;

        if (!origin)
                return 0;
        have_own = http_request_origin(req, own, sizeof(own)) == 0;
        return session_origin_allowed(origin, public_url, have_own ? own : NULL) ? 0 : -EPERM;
}

static int add_cookie(struct http_request *req, struct MHD_Response *resp,
                      const struct session_kind *k, bool csrf, const char *value, long max_age)
{
        char buf[512];
        int r = session_format_cookie(buf, sizeof(buf), k, csrf, value, max_age, req->https);

        if (r < 0)
                return r;
        return MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, buf) == MHD_YES ? 0
                                                                                         : -ENOMEM;
}

int session_set_cookies(struct http_request *req, struct MHD_Response *resp,
                        const struct session_kind *k, const struct session_secrets *sec)
{
        int r = add_cookie(req, resp, k, false, sec->token, SESSION_LIFETIME_SECONDS);
        return r < 0 ? r : add_cookie(req, resp, k, true, sec->csrf, SESSION_LIFETIME_SECONDS);
}

int session_clear_cookies(struct http_request *req, struct MHD_Response *resp,
                          const struct session_kind *k)
{
        int r = add_cookie(req, resp, k, false, "", 0);
        return r < 0 ? r : add_cookie(req, resp, k, true, "", 0);
}

/* --- pure pieces --------------------------------------------------------- */

int session_format_cookie(char *buf, size_t size, const struct session_kind *k, bool csrf,
                          const char *value, long max_age, bool secure)
{
        int n = snprintf(buf, size, "%s=%s; Path=%s; Max-Age=%ld; %s%s",
                         csrf ? SESSION_CSRF_COOKIE : k->cookie, value, k->path, max_age,
                         csrf ? "SameSite=Strict" : "HttpOnly; SameSite=Lax",
                         secure ? "; Secure" : "");
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

bool session_csrf_matches(const char *presented, const char *const *cookies, size_t n,
                          const char *stored_hash)
{
        char hash[TOKEN_SHA256_HEX + 1];
        bool in_cookie = false;

        if (!presented || !*presented || strlen(presented) > SESSION_TOKEN_MAX || !stored_hash)
                return false;
        for (size_t i = 0; i < n; i++)
                in_cookie |= token_equal(presented, cookies[i]);
        token_sha256_hex(presented, strlen(presented), hash);
        return token_equal(hash, stored_hash) && in_cookie;
}

int session_url_origin(const char *url, char *out, size_t size)
{
        const char *scheme, *host, *end;
        size_t scheme_len, host_len;
        int n;

        if (!url)
                return -EINVAL;
        if (strncasecmp(url, "https://", 8) == 0) {
                scheme = "https";
                scheme_len = 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                scheme = "http";
                scheme_len = 7;
        } else
                return -EINVAL;
        host = url + scheme_len;
        end = host + strcspn(host, "/?#");
        host_len = (size_t)(end - host);
        if (host_len == 0 || memchr(host, '@', host_len))
                return -EINVAL;
        for (size_t i = 0; i < host_len; i++)
                if (!isgraph((unsigned char)host[i]))
                        return -EINVAL;
        /* Browsers leave the default port out of Origin. */
        if (strcmp(scheme, "http") == 0 && host_len > 3 && memcmp(end - 3, ":80", 3) == 0)
                host_len -= 3;
        else if (strcmp(scheme, "https") == 0 && host_len > 4 && memcmp(end - 4, ":443", 4) == 0)
                host_len -= 4;
        n = snprintf(out, size, "%s://%.*s", scheme, (int)host_len, host);
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        str_ascii_lower(out);
        return 0;
}

bool session_origin_allowed(const char *origin, const char *public_url, const char *own_origin)
{
        char want[512], got[512];

        /* An Origin is exactly "scheme://host[:port]": no path. */
        if (!origin || session_url_origin(origin, got, sizeof(got)) < 0 ||
            strpbrk(strstr(origin, "://") + 3, "/?#"))
                return false;
        if (public_url && session_url_origin(public_url, want, sizeof(want)) == 0 &&
            strcmp(got, want) == 0)
                return true;
        return own_origin && session_url_origin(own_origin, want, sizeof(want)) == 0 &&
               strcmp(got, want) == 0;
}
